"""Loading a contacts file's checked rows: owners resolved, rows naming one person folded,
erased people held back, matches filled in, new people inserted in bulk.

A stored value is never overwritten: a matched contact only gains what it lacked. New contacts
go in with one bulk INSERT (their fields encrypted by the column types, as any write is).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import select

from crm_core.auth.policy import Action, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import Account, Contact, User
from crm_core.errors import ValidationFailedError
from crm_core.imports.bulk_records import REFUSED, ROW, VALUE_SHOWN, LoadContext, Loaded, Loader
from crm_core.imports.contact_matching import MATCHED_ON, UNIQUE_KEYS, MatchKey, Person, match_key, stored_matches
from crm_core.imports.loading import insert_rows
from crm_core.protection.lookup import email_lookup, phone_lookup
from crm_core.schemas.imports import ImportProblem
from crm_core.services.access import contact_ids_in_reach, within_reach
from crm_core.services.ownership import resolve_owner
from crm_core.services.person_guard import HELD_BACK, erased_hashes, may_readd_erased

NOT_ASSIGNABLE = "'{}' is not a user you may assign contacts to"
# Fields a later row may fill in when an earlier row (or the stored contact) left them empty.
MERGEABLE = ("external_id", "first_name", "last_name", "email", "phone", "address", "notes", "account", "created_at")
STORED_TEXT = ("external_id", "first_name", "last_name", "email", "phone", "address", "notes")


def contact_loader(allow_erased: bool) -> Loader:
    """`allow_erased`: an administrator's choice to load people erased on request before."""

    def load(ctx: LoadContext, parsed: pl.DataFrame) -> Loaded:
        loaded = Loaded()
        good = _with_owners(ctx, parsed.filter(~pl.col(REFUSED)), loaded)
        people = _fold(good, loaded)
        loadable = _hold_erased(ctx, people, allow_erased, loaded)
        _write(ctx, loadable, loaded)
        loaded.duplicates_in_file = sum(len(person.extra_rows) for person in people)
        return loaded

    return load


def _with_owners(ctx: LoadContext, rows: pl.DataFrame, loaded: Loaded) -> pl.DataFrame:
    """Each distinct owner email resolved once, within the importer's reach; a row naming
    someone the importer may not assign is refused, with the same words whether that user
    exists outside their team or not at all."""
    owner_of: dict[str | None, int | None] = {}
    refused: set[str] = set()
    for email in rows["owner_email"].unique().to_list():
        try:
            owner_of[email] = _owner(ctx, email)
        except ValidationFailedError:
            refused.add(email)
    for number, email in rows.filter(pl.col("owner_email").is_in(list(refused))).select(ROW, "owner_email").rows():
        reason = NOT_ASSIGNABLE.format(email)
        loaded.problems.append(ImportProblem(row=number, field="owner_email", reason=reason, value=email[:VALUE_SHOWN]))
    kept = rows.filter(pl.col("owner_email").is_in(list(refused)).not_() | pl.col("owner_email").is_null())
    owners = kept["owner_email"].replace_strict(owner_of, default=None, return_dtype=pl.Int64)
    return kept.with_columns(owners.alias("owner_id"))


def _owner(ctx: LoadContext, owner_email: str | None) -> int | None:
    user_id = None
    if owner_email is not None:
        user_id = ctx.uow.session.scalar(select(User.id).where(User.email == owner_email))
        if user_id is None:
            raise ValidationFailedError("owner_email", NOT_ASSIGNABLE.format(owner_email))
    return resolve_owner(ctx.uow, ctx.principal, "contact", Action.CREATE, user_id)


def _fold(rows: pl.DataFrame, loaded: Loaded) -> list[Person]:
    """Rows naming the same person fold into the first one; later rows fill its gaps."""
    people: dict[MatchKey, Person] = {}
    email_given_by: dict[str, Person] = {}
    for values in rows.iter_rows(named=True):
        number = values.pop(ROW)
        email_hash, phone_hash = email_lookup(values["email"]), phone_lookup(values["phone"])
        key = match_key(values, email_hash, phone_hash)
        earlier = email_given_by.get(email_hash) if email_hash is not None else None
        if earlier is not None and earlier.key != key:
            # One email, two external ids: two people cannot share an address.
            reason = f"is given to another person in this file (row {earlier.rows[0]})"
            loaded.problems.append(ImportProblem(row=number, field="email", reason=reason, value=values["email"]))
            continue
        person = people.get(key)
        if person is None:
            people[key] = person = Person(key, [number], values, email_hash, phone_hash)
            if email_hash is not None:
                email_given_by[email_hash] = person
        else:
            person.extra_rows.append(number)
            _fill_gaps(person.values, values)
            person.email_hash = person.email_hash or email_hash
            person.phone_hash = person.phone_hash or phone_hash
    return list(people.values())


def _fill_gaps(kept: dict[str, Any], later: dict[str, Any]) -> None:
    for name in MERGEABLE:
        if kept[name] in (None, "") and later[name] not in (None, ""):
            kept[name] = later[name]
    kept["custom"] = later["custom"] | kept["custom"]


def _hold_erased(ctx: LoadContext, people: list[Person], allow_erased: bool, loaded: Loaded) -> list[Person]:
    erased = erased_hashes(ctx.uow, (v for p in people for v in (p.email_hash, p.phone_hash) if v))
    held = [person for person in people if {person.email_hash, person.phone_hash} & erased]
    for person in held:
        field = "email" if person.email_hash in erased else "phone"
        if may_readd_erased(ctx.principal):
            # An administrator is told plainly, and may re-load on purpose.
            outcome = "loaded as allowed" if allow_erased else "not loaded (allow erased people to load)"
            reason = f"this person was erased on request before; {outcome}"
            loaded.flagged.append(ImportProblem(row=person.rows[0], field=field, reason=reason))
        else:
            # Anyone else gets the answer another team's contact gets (see person_guard).
            loaded.problems.extend(
                ImportProblem(row=number, field=field, reason=HELD_BACK) for number in person.every_row
            )
    if allow_erased and may_readd_erased(ctx.principal):
        return people
    held_keys = {person.key for person in held}
    return [person for person in people if person.key not in held_keys]


def _write(ctx: LoadContext, people: list[Person], loaded: Loaded) -> None:
    """Insert new people, fill gaps of matched ones; matches out of the caller's reach are refused."""
    uow = ctx.uow
    existing, refused = stored_matches(uow, people)
    for person in refused:
        reason = "this email belongs to another stored contact"
        loaded.problems.extend(ImportProblem(row=number, field="email", reason=reason) for number in person.rows)
    people = [person for person in people if person not in refused]
    in_reach = contact_ids_in_reach(uow, ctx.principal, "contact", Action.UPDATE, {c.id for c in existing.values()})
    accounts = _Accounts(ctx.uow, ctx.principal, ctx.now)
    new_people: list[tuple[Person, Account | None]] = []
    for person in people:
        match = existing.get(person.key)
        if match is not None and match.id not in in_reach:
            if person.key[0] in UNIQUE_KEYS:
                # An email or external id names one person in the whole CRM: the row cannot load,
                # and the answer is the one an erased person gets, so neither is revealed.
                loaded.problems.extend(
                    ImportProblem(row=number, field=MATCHED_ON[person.key[0]], reason=HELD_BACK)
                    for number in person.every_row
                )
                continue
            match = None  # a phone or name match out of reach is someone else's record: load as new
        if match is None:
            new_people.append((person, accounts.get(person.values["account"], person.values["owner_id"])))
        elif _merge_into(match, person.values, accounts):
            loaded.merged += 1
        else:
            loaded.unchanged += 1
    uow.session.flush()  # new accounts get their ids
    rows = [_new_contact(person, account, ctx.now) for person, account in new_people]
    insert_rows(uow, Contact, pl.DataFrame(rows, schema=NEW_CONTACT, orient="row"))
    loaded.inserted = len(rows)


NEW_CONTACT: dict[str, Any] = {
    "external_id": pl.String,
    "first_name": pl.String,
    "last_name": pl.String,
    "email": pl.String,
    "email_hash": pl.String,
    "phone": pl.String,
    "phone_hash": pl.String,
    "address": pl.String,
    "notes": pl.String,
    "lifecycle_stage": pl.String,
    "account_id": pl.Int64,
    "owner_id": pl.Int64,
    "created_at": pl.Datetime("us"),
    "custom": pl.Object,
}


def _new_contact(person: Person, account: Account | None, now: datetime) -> tuple[Any, ...]:
    """The stored row, in NEW_CONTACT's order (the lookup hashes are the ones matched on)."""
    values = person.values
    return (
        values["external_id"],
        values["first_name"] or "",
        values["last_name"] or "",
        values["email"],
        person.email_hash,
        values["phone"],
        person.phone_hash,
        values["address"],
        values["notes"],
        values["lifecycle_stage"] or "lead",
        None if account is None else account.id,
        values["owner_id"],
        values["created_at"] or now,
        values["custom"],
    )


def _merge_into(contact: Contact, values: dict[str, Any], accounts: _Accounts) -> bool:
    """Fill the stored contact's empty fields from the file; never overwrite a stored value."""
    changed = False
    for name in STORED_TEXT:
        if getattr(contact, name) in (None, "") and values[name] not in (None, ""):
            setattr(contact, name, values[name])
            changed = True
    if contact.account_id is None and values["account"] is not None:
        contact.account = accounts.get(values["account"], values["owner_id"])
        changed = True
    stored = contact.custom or {}
    if set(values["custom"]) - set(stored):
        contact.custom = values["custom"] | stored
        changed = True
    return changed


class _Accounts:
    """Accounts named in the file: found by exact name among the accounts the importer reaches,
    created once when new. Another team's account of the same name is never linked (the JSON
    API refuses that link too) and never revealed: the importer gets an account of their own."""

    def __init__(self, uow: Any, principal: Principal, now: datetime) -> None:
        self.uow, self.principal, self.now = uow, principal, now
        self.by_name: dict[str, Account] = {}

    def get(self, name: str | None, owner_id: int | None) -> Account | None:
        if name is None:
            return None
        if name not in self.by_name:
            scope = self.principal.scope("account", Action.READ)
            query = within_reach(select(Account).where(Account.name == name), Account.owner_id, self.principal, scope)
            found = None if scope is Scope.NONE else self.uow.session.scalar(query.order_by(Account.id).limit(1))
            if found is None:
                found = Account(name=name, owner_id=owner_id, created_at=self.now)
                self.uow.session.add(found)
            self.by_name[name] = found
        return self.by_name[name]
