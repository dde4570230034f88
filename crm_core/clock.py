"""The CRM's notion of "now": naive UTC, matching how every timestamp is stored."""

from __future__ import annotations

from datetime import UTC, datetime

from crm_core.errors import ValidationFailedError


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def as_naive_utc(moment: datetime) -> datetime:
    """A timestamp as stored: with a zone, converted to UTC; without one, taken as UTC already."""
    return moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment


IN_THE_FUTURE = "is in the future"


def stamped(moment: datetime | None, now: datetime, field: str) -> datetime:
    """A record's own date as stored (a history brought in keeps it), or now when it has none;
    a date past now is refused with its field named: what has not happened is not history."""
    stored = now if moment is None else as_naive_utc(moment)
    if stored > now:
        raise ValidationFailedError(field, IN_THE_FUTURE)
    return stored
