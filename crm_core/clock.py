"""The CRM's notion of "now": naive UTC, matching how every timestamp is stored."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)
