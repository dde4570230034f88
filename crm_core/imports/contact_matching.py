"""Finding the stored contacts a file's people already are.

A person is matched by external id, then email (keyed hash), then phone and name, then name and
account: the strongest key they carry decides. An external id and an email name one person in
the whole CRM, so a person whose email another stored contact holds is refused, never moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from crm_core.entities import Contact
from crm_core.unit_of_work import UnitOfWork
from crm_core.value_sets import among

CHUNK = 2_000
MatchKey = tuple[str, ...]
# Keys naming one person in the whole CRM: a match out of the importer's reach refuses the row.
UNIQUE_KEYS = frozenset({"external_id", "email"})
MATCHED_ON = {"external_id": "external_id", "email": "email", "phone": "phone", "name": "first_name"}


@dataclass
class Person:
    """One person of the file: the first row naming them, filled in by later rows."""

    key: MatchKey
    rows: list[int]
    values: dict[str, Any]
    email_hash: str | None
    phone_hash: str | None
    extra_rows: list[int] = field(default_factory=list)

    @property
    def every_row(self) -> list[int]:
        return [*self.rows, *self.extra_rows]


def match_key(values: dict[str, Any], email_hash: str | None, phone_hash: str | None) -> MatchKey:
    if values["external_id"] is not None:
        return ("external_id", values["external_id"])
    if email_hash is not None:
        return ("email", email_hash)
    names = ((values["first_name"] or "").lower(), (values["last_name"] or "").lower())
    if phone_hash is not None:
        return ("phone", phone_hash, *names)
    return ("name", *names, (values["account"] or "").lower())


def stored_matches(uow: UnitOfWork, people: list[Person]) -> tuple[dict[MatchKey, Contact], list[Person]]:
    """Stored contacts the file's people match, and the people refused because their email
    belongs to another stored contact than their external id names."""
    found, refused = _matched_by_id_or_email(uow, people)
    found.update(_matched_by_phone(uow, people))
    found.update(_matched_by_name(uow, people))
    return found, refused


def _matched_by_id_or_email(uow: UnitOfWork, people: list[Person]) -> tuple[dict[MatchKey, Contact], list[Person]]:
    found: dict[MatchKey, Contact] = {}
    by_external_id = {person.key[1]: person for person in people if person.key[0] == "external_id"}
    for contact in _stored(uow, Contact.external_id, list(by_external_id)):
        found[by_external_id[contact.external_id or ""].key] = contact
    # A person with a new external id may still be a stored contact, matched by email; one
    # matched by external id must not take an email another stored contact holds.
    email_keys = {
        person.email_hash: person for person in people if person.email_hash is not None and person.key[0] in UNIQUE_KEYS
    }
    refused: list[Person] = []
    for contact in _stored(uow, Contact.email_hash, list(email_keys)):
        person = email_keys[contact.email_hash or ""]
        held = found.get(person.key)
        clash = (held is not None and held.id != contact.id) or (
            held is None and contact.external_id not in (None, person.key[1])
        )
        if clash and person.key[0] == "external_id":
            refused.append(person)
        else:
            found[person.key] = contact
    return found, refused


def _stored(uow: UnitOfWork, attribute: InstrumentedAttribute[Any], values: list[Any]) -> list[Contact]:
    """Stored contacts whose `attribute` is one of `values`, in one query."""
    if not values:
        return []
    dialect = uow.session.get_bind().dialect.name
    return list(uow.session.scalars(select(Contact).where(among(attribute, values, dialect))))


def _matched_by_phone(uow: UnitOfWork, people: list[Person]) -> dict[MatchKey, Contact]:
    found: dict[MatchKey, Contact] = {}
    phone_keys = {person.key for person in people if person.key[0] == "phone"}
    by_phone = {person.phone_hash for person in people if person.key[0] == "phone"}
    for contact in _stored(uow, Contact.phone_hash, list(by_phone)):
        key = ("phone", contact.phone_hash or "", contact.first_name.lower(), contact.last_name.lower())
        if contact.email_hash is None and key in phone_keys:
            found.setdefault(key, contact)
    return found


def _matched_by_name(uow: UnitOfWork, people: list[Person]) -> dict[MatchKey, Contact]:
    found: dict[MatchKey, Contact] = {}
    name_keys = {person.key for person in people if person.key[0] == "name"}
    names = list({(key[1], key[2]) for key in name_keys})
    for chunk in _chunks(names):
        query = (
            select(Contact)
            .where(
                tuple_(func.lower(Contact.first_name), func.lower(Contact.last_name)).in_(chunk),
                Contact.email_hash.is_(None),
                Contact.phone_hash.is_(None),
            )
            .order_by(Contact.id)
        )
        for contact in uow.session.scalars(query):
            account = (contact.account.name if contact.account is not None else "").lower()
            key = ("name", contact.first_name.lower(), contact.last_name.lower(), account)
            if key in name_keys:
                found.setdefault(key, contact)
    return found


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
