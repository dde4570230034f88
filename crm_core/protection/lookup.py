"""Keyed lookup hashes of personal fields: exact-match search without storing the value."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_core.normalise import normalise_email, normalise_phone
from crm_core.protection.keyring import active


def email_lookup(email: str | None) -> str | None:
    return None if email is None else active().lookup_hash("email:" + normalise_email(email))


def email_lookups(emails: list[str]) -> list[str]:
    """`email_lookup` of each address, for a bulk import's whole column."""
    return active().lookup_hashes(["email:" + normalise_email(email) for email in emails])


def phone_lookup(phone: str | None) -> str | None:
    """None for a value that is not a phone number: it can be stored, but not looked up."""
    if phone is None:
        return None
    try:
        return active().lookup_hash("phone:" + normalise_phone(phone))
    except ValueError:
        return None


# Lookup columns kept beside encrypted ones: (table, field) -> (lookup column, function).
LOOKUP_COLUMNS: dict[tuple[str, str], tuple[str, Callable[[str | None], str | None]]] = {
    ("contacts", "email"): ("email_hash", email_lookup),
    ("contacts", "phone"): ("phone_hash", phone_lookup),
}


def with_lookups(table: str, rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """`rows` for a bulk insert into `table`, with their lookup hashes filled in.

    ORM writes keep hashes in step by themselves; Core bulk inserts come through here.
    """
    wanted = [(field, column, lookup) for (name, field), (column, lookup) in LOOKUP_COLUMNS.items() if name == table]
    if not wanted:
        return rows
    return [row | {column: lookup(row.get(field)) for field, column, lookup in wanted} for row in rows]
