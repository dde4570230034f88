"""One spelling per value: how emails and phone numbers are compared, hashed and deduplicated.

Everything that matches people (lookups, dedup on import, the erasure register) goes through
these functions, so "Ada@Example.com " and "ada@example.com" are the same person everywhere.
"""

from __future__ import annotations

import re
from datetime import datetime

from crm_core.clock import as_naive_utc

# What an email address must look like (also read by polars, a column at a time).
EMAIL_FORM = r"^[^@\s]+@[^@\s]+\.[^@\s]+$"
_EMAIL = re.compile(EMAIL_FORM)
_PHONE_NOISE = re.compile(r"[\s().\-/]")
MIN_PHONE_DIGITS = 5
MAX_PHONE_DIGITS = 15  # E.164


def normalise_email(email: str) -> str:
    return email.strip().lower()


def valid_email(email: str) -> bool:
    return bool(_EMAIL.match(email))


def normalise_phone(phone: str) -> str:
    """Digits with an optional leading '+'; raises ValueError for anything else."""
    compact = _PHONE_NOISE.sub("", phone.strip())
    if compact.startswith("00"):
        compact = "+" + compact[2:]
    digits = compact.removeprefix("+")
    if not digits.isdigit() or not MIN_PHONE_DIGITS <= len(digits) <= MAX_PHONE_DIGITS:
        raise ValueError(f"'{phone}' is not a phone number (5 to 15 digits, optional leading +)")
    return compact


_DATE_FORMATS = ("%Y-%m-%d", "%Y/%m/%d", "%d.%m.%Y", "%Y-%m-%d %H:%M:%S", "%Y-%m-%d %H:%M")


def parse_timestamp(text: str) -> datetime:
    """A naive UTC timestamp from ISO 8601 (with or without zone) or an unambiguous date form.

    Slash dates with the day first or the month first (03/04/2025) are refused: guessing
    between them silently moves events by months.
    """
    value = text.strip()
    try:
        parsed = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        for form in _DATE_FORMATS:
            try:
                parsed = datetime.strptime(value, form)
                break
            except ValueError:
                continue
        else:
            raise ValueError(f"'{text}' is not a date (use YYYY-MM-DD or ISO 8601)") from None
    return as_naive_utc(parsed)
