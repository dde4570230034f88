"""Which person of the file each row names, and which stored contact each person already is.

A person is keyed by the strongest thing a row carries: external id, then email (keyed hash),
then phone with the name, then the name with the account. An external id and an email name one
person in the whole CRM, so a person whose email another stored contact holds is refused,
never moved.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import polars as pl
from sqlalchemy import func, select, tuple_
from sqlalchemy.orm import InstrumentedAttribute

from crm_core.entities import Contact
from crm_core.unit_of_work import UnitOfWork
from crm_core.value_sets import where_among

CHUNK = 2_000
KEY, MATCHED_ON = "key", "matched_on"
# Joins a key's parts; text fields refuse control characters, so no value holds it.
SEP = "\x1f"
# Keys naming one person in the whole CRM: a match out of the importer's reach refuses the row.
UNIQUE_KEYS = frozenset({"external_id", "email"})
FIELD_MATCHED = {"external_id": "external_id", "email": "email", "phone": "phone", "name": "first_name"}


def _lower(column: str) -> pl.Expr:
    return pl.col(column).fill_null("").str.to_lowercase()


def with_person_keys(rows: pl.DataFrame) -> pl.DataFrame:
    """`rows` (with `email_hash` and `phone_hash`) with the key of the person each names, and
    which of their fields it was taken from."""
    names = [_lower("first_name"), _lower("last_name")]
    matched_on = (
        pl.when(pl.col("external_id").is_not_null())
        .then(pl.lit("external_id"))
        .when(pl.col("email_hash").is_not_null())
        .then(pl.lit("email"))
        .when(pl.col("phone_hash").is_not_null())
        .then(pl.lit("phone"))
        .otherwise(pl.lit("name"))
    )
    key = (
        pl.when(pl.col(MATCHED_ON) == "external_id")
        .then(pl.concat_str([pl.col(MATCHED_ON), pl.col("external_id")], separator=SEP))
        .when(pl.col(MATCHED_ON) == "email")
        .then(pl.concat_str([pl.col(MATCHED_ON), pl.col("email_hash")], separator=SEP))
        .when(pl.col(MATCHED_ON) == "phone")
        .then(pl.concat_str([pl.col(MATCHED_ON), pl.col("phone_hash"), *names], separator=SEP))
        .otherwise(pl.concat_str([pl.col(MATCHED_ON), *names, _lower("account")], separator=SEP))
    )
    return rows.with_columns(matched_on.alias(MATCHED_ON)).with_columns(key.alias(KEY))


def stored_matches(uow: UnitOfWork, people: pl.DataFrame) -> tuple[dict[str, Contact], set[str]]:
    """Stored contacts the file's people match (by person key), and the keys of people refused
    because their email belongs to another stored contact than their external id names."""
    found, refused = _matched_by_id_or_email(uow, people)
    found.update(_matched_by_phone(uow, people))
    found.update(_matched_by_name(uow, people))
    return found, refused


def _keyed_by(people: pl.DataFrame, how: str) -> pl.DataFrame:
    return people.filter(pl.col(MATCHED_ON) == how)


def _matched_by_id_or_email(uow: UnitOfWork, people: pl.DataFrame) -> tuple[dict[str, Contact], set[str]]:
    found: dict[str, Contact] = {}
    by_id = _keyed_by(people, "external_id")
    key_of_id = dict(zip(by_id["external_id"].to_list(), by_id[KEY].to_list(), strict=True))
    for contact in _stored(uow, Contact.external_id, list(key_of_id)):
        found[key_of_id[contact.external_id or ""]] = contact
    # A person with a new external id may still be a stored contact, matched by email; one
    # matched by external id must not take an email another stored contact holds.
    unique = people.filter(pl.col(MATCHED_ON).is_in(list(UNIQUE_KEYS)) & pl.col("email_hash").is_not_null())
    by_email = {row[0]: row[1:] for row in unique.select("email_hash", KEY, MATCHED_ON, "external_id").rows()}
    refused: set[str] = set()
    for contact in _stored(uow, Contact.email_hash, list(by_email)):
        key, matched_on, external_id = by_email[contact.email_hash or ""]
        held = found.get(key)
        clash = (held is not None and held.id != contact.id) or (
            held is None and contact.external_id not in (None, external_id)
        )
        if clash and matched_on == "external_id":
            refused.add(key)
        else:
            found[key] = contact
    return found, refused


def _stored(uow: UnitOfWork, attribute: InstrumentedAttribute[Any], values: list[Any]) -> list[Contact]:
    """Stored contacts whose `attribute` is one of `values`, in one query."""
    if not values:
        return []
    dialect = uow.session.get_bind().dialect.name
    return list(uow.session.scalars(where_among(select(Contact), attribute, values, dialect)))


def _matched_by_phone(uow: UnitOfWork, people: pl.DataFrame) -> dict[str, Contact]:
    found: dict[str, Contact] = {}
    by_phone = _keyed_by(people, "phone")
    keys = set(by_phone[KEY].to_list())
    for contact in _stored(uow, Contact.phone_hash, by_phone["phone_hash"].unique().to_list()):
        key = SEP.join(("phone", contact.phone_hash or "", contact.first_name.lower(), contact.last_name.lower()))
        if contact.email_hash is None and key in keys:
            found.setdefault(key, contact)
    return found


def _matched_by_name(uow: UnitOfWork, people: pl.DataFrame) -> dict[str, Contact]:
    found: dict[str, Contact] = {}
    keys = set(_keyed_by(people, "name")[KEY].to_list())
    names = list({tuple(key.split(SEP)[1:3]) for key in keys})
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
            key = SEP.join(("name", contact.first_name.lower(), contact.last_name.lower(), account))
            if key in keys:
                found.setdefault(key, contact)
    return found


def _chunks(values: list[Any]) -> Iterable[list[Any]]:
    for start in range(0, len(values), CHUNK):
        yield values[start : start + CHUNK]
