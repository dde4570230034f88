"""Loading a contacts file's checked rows: owners resolved, rows naming one person folded,
erased people held back, matches filled in, new people inserted in bulk.

Everything but the few stored matches is done a column at a time. A stored value is never
overwritten: a matched contact only gains what it lacked.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import select

from crm_core.auth.policy import Action, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import Account, Contact, ContactChange, User
from crm_core.errors import ValidationFailedError
from crm_core.imports.bulk_records import REFUSED, ROW, VALUE_SHOWN, LoadContext, Loaded, Loader
from crm_core.imports.contact_matching import (
    FIELD_MATCHED,
    KEY,
    MATCHED_ON,
    UNIQUE_KEYS,
    stored_matches,
    with_person_keys,
)
from crm_core.imports.custom_columns import CUSTOM, custom_column_name, custom_columns, custom_objects
from crm_core.imports.loading import insert_rows, reserve_ids
from crm_core.protection.lookup import email_lookups, phone_lookup
from crm_core.schemas.imports import ImportProblem
from crm_core.services.access import contact_ids_in_reach, within_reach
from crm_core.services.contact_history import append_changes, change_text
from crm_core.services.current_scores import IN_LIST_CHUNK
from crm_core.services.ownership import resolve_owner
from crm_core.services.person_guard import HELD_BACK, erased_hashes, may_readd_erased
from crm_core.services.rescoring import request_rescore
from crm_core.unit_of_work import UnitOfWork

NOT_ASSIGNABLE = "'{}' is not a user you may assign contacts to"
ROWS = "rows"
# Fields a later row may fill in when an earlier row (or the stored contact) left them empty.
MERGEABLE = ("external_id", "first_name", "last_name", "email", "phone", "address", "notes", "account", "created_at")
STORED_TEXT = ("external_id", "first_name", "last_name", "email", "phone", "address", "notes")
WRITTEN = (
    "external_id",
    "first_name",
    "last_name",
    "email",
    "email_hash",
    "phone",
    "phone_hash",
    "address",
    "notes",
    "lifecycle_stage",
    "account_id",
    "owner_id",
    "created_at",
    CUSTOM,
)


def contact_loader(allow_erased: bool) -> Loader:
    """`allow_erased`: an administrator's choice to load people erased on request before."""

    def load(ctx: LoadContext, parsed: pl.DataFrame) -> Loaded:
        loaded = Loaded()
        rows = _with_owners(ctx, parsed.filter(~pl.col(REFUSED)), loaded)
        rows = _one_person_per_email(with_person_keys(_with_lookups(rows)), loaded)
        people = _fold(rows)
        loaded.duplicates_in_file = rows.height - people.height
        _write(ctx, _hold_erased(ctx, people, allow_erased, loaded), loaded)
        return loaded

    return load


def _with_owners(ctx: LoadContext, rows: pl.DataFrame, loaded: Loaded) -> pl.DataFrame:
    """Each distinct owner email resolved once, within the importer's reach; a row naming
    someone the importer may not assign is refused, with the same words whether that user
    exists outside their team or not at all."""
    owner_of: dict[str | None, int | None] = {}
    refused: list[str] = []
    for email in rows["owner_email"].unique().to_list():
        try:
            owner_of[email] = _owner(ctx, email)
        except ValidationFailedError:
            refused.append(email)
    not_assignable = pl.col("owner_email").is_in(refused).fill_null(False)
    for number, email in rows.filter(not_assignable).select(ROW, "owner_email").rows():
        reason = NOT_ASSIGNABLE.format(email)
        loaded.problems.append(ImportProblem(row=number, field="owner_email", reason=reason, value=email[:VALUE_SHOWN]))
    kept = rows.filter(~not_assignable)
    named = {email: owner for email, owner in owner_of.items() if email is not None}
    owners = kept["owner_email"].replace_strict(named, default=owner_of.get(None), return_dtype=pl.Int64)
    return kept.with_columns(owners.alias("owner_id"))


def _owner(ctx: LoadContext, owner_email: str | None) -> int | None:
    user_id = None
    if owner_email is not None:
        user_id = ctx.uow.session.scalar(select(User.id).where(User.email == owner_email))
        if user_id is None:
            raise ValidationFailedError("owner_email", NOT_ASSIGNABLE.format(owner_email))
    return resolve_owner(ctx.uow, ctx.principal, "contact", Action.CREATE, user_id)


def _with_lookups(rows: pl.DataFrame) -> pl.DataFrame:
    """The keyed hashes people are matched (and erased people recognised) by, one per distinct value."""
    emails = rows["email"].drop_nulls().unique().to_list()
    phones = rows["phone"].drop_nulls().unique().to_list()
    email_hashes = dict(zip(emails, email_lookups(emails), strict=True))
    return rows.with_columns(
        rows["email"].replace_strict(email_hashes, default=None).alias("email_hash"),
        rows["phone"].replace_strict({p: phone_lookup(p) for p in phones}, default=None).alias("phone_hash"),
    )


def _one_person_per_email(rows: pl.DataFrame, loaded: Loaded) -> pl.DataFrame:
    """Two people cannot share an address: an email belongs to the person of the first row that
    gives it; a row giving it to another person (another external id) is refused."""
    if not rows["email_hash"].drop_nulls().is_duplicated().any():
        return rows  # every address given once
    owner = pl.col(KEY).first().over("email_hash", order_by=ROW)
    first_row_of = pl.col(ROW).min().over(KEY)
    marked = rows.with_columns(first_row_of.alias("person_row")).with_columns(
        (pl.col("email_hash").is_not_null() & (pl.col(KEY) != owner)).alias("shared"),
        pl.col("person_row").first().over("email_hash", order_by=ROW).alias("owner_row"),
    )
    for number, email, owner_row in marked.filter("shared").select(ROW, "email", "owner_row").rows():
        reason = f"is given to another person in this file (row {owner_row})"
        loaded.problems.append(ImportProblem(row=number, field="email", reason=reason, value=email))
    return marked.filter(~pl.col("shared")).drop("person_row", "shared", "owner_row")


def _fold(rows: pl.DataFrame) -> pl.DataFrame:
    """One row per person: the first row's values, its gaps filled by later rows (the first
    value given wins, for every field a later row may fill), and every row number it came from."""
    if rows[KEY].is_unique().all():
        return rows.with_columns(pl.concat_list(ROW).alias(ROWS))  # every person named once
    filled = [*MERGEABLE, "email_hash", "phone_hash", *custom_columns(rows)]
    kept_as_first = [name for name in rows.columns if name not in (*filled, KEY, ROW)]
    return rows.group_by(KEY, maintain_order=True).agg(
        pl.col(ROW).first(),
        pl.col(ROW).alias(ROWS),
        *[pl.col(name).drop_nulls().first() for name in filled],
        *[pl.col(name).first() for name in kept_as_first],
    )


def _hold_erased(ctx: LoadContext, people: pl.DataFrame, allow_erased: bool, loaded: Loaded) -> pl.DataFrame:
    hashes = [*people["email_hash"].drop_nulls().to_list(), *people["phone_hash"].drop_nulls().to_list()]
    erased = list(erased_hashes(ctx.uow, hashes))
    if not erased:
        return people
    by_email = pl.col("email_hash").is_in(erased).fill_null(False)
    held = by_email | pl.col("phone_hash").is_in(erased).fill_null(False)
    administrator = may_readd_erased(ctx.principal)
    for first, every_row, email_erased in people.filter(held).select(ROW, ROWS, by_email.alias("e")).rows():
        field = "email" if email_erased else "phone"
        if administrator:
            # An administrator is told plainly, and may re-load on purpose.
            outcome = "loaded as allowed" if allow_erased else "not loaded (allow erased people to load)"
            reason = f"this person was erased on request before; {outcome}"
            loaded.flagged.append(ImportProblem(row=first, field=field, reason=reason))
        else:
            # Anyone else gets the answer another team's contact gets (see person_guard).
            loaded.problems.extend(ImportProblem(row=number, field=field, reason=HELD_BACK) for number in every_row)
    return people if allow_erased and administrator else people.filter(~held)


def _write(ctx: LoadContext, people: pl.DataFrame, loaded: Loaded) -> None:
    """Fill gaps of matched people, insert the new ones; matches out of the caller's reach are refused."""
    uow = ctx.uow
    existing, refused = stored_matches(uow, people)
    for every_row in people.filter(pl.col(KEY).is_in(list(refused)))[ROWS].to_list():
        reason = "this email belongs to another stored contact"
        loaded.problems.extend(ImportProblem(row=number, field="email", reason=reason) for number in every_row)
    in_reach = contact_ids_in_reach(uow, ctx.principal, "contact", Action.UPDATE, {c.id for c in existing.values()})
    out_of_reach = {key for key, contact in existing.items() if contact.id not in in_reach}
    accounts = _Accounts(uow, ctx.principal, ctx.now)
    accounts.look_up(people["account"].to_list())
    matched = people.filter(pl.col(KEY).is_in([key for key in existing if key not in out_of_reach]))
    for person in matched.with_columns(pl.Series(CUSTOM, custom_objects(matched), dtype=pl.Object)).iter_rows(
        named=True
    ):
        if _merge_into(ctx, existing[person[KEY]], person, accounts):
            loaded.merged += 1
        else:
            loaded.unchanged += 1
    # An email or external id names one person in the whole CRM: out of reach, the row cannot
    # load, and the answer is the one an erased person gets, so neither is revealed. A phone or
    # name match out of reach is someone else's record: the person loads as new.
    held = people.filter(pl.col(KEY).is_in(list(out_of_reach)) & pl.col(MATCHED_ON).is_in(list(UNIQUE_KEYS)))
    for matched_on, every_row in held.select(MATCHED_ON, ROWS).rows():
        field = FIELD_MATCHED[matched_on]
        loaded.problems.extend(ImportProblem(row=number, field=field, reason=HELD_BACK) for number in every_row)
    stored = set(existing) - out_of_reach
    new = people.filter(~pl.col(KEY).is_in([*stored, *refused, *held[KEY].to_list()]))
    contacts = _new_contacts(new, accounts, ctx.now).with_columns(
        pl.Series("id", reserve_ids(uow, Contact, new.height), dtype=pl.Int64)
    )
    insert_rows(uow, Contact, contacts)
    insert_rows(uow, ContactChange, _first_history(contacts, new))
    loaded.inserted = new.height
    merged = [contact.id for key, contact in existing.items() if key not in out_of_reach]
    request_rescore(uow, [*contacts["id"].to_list(), *merged], now=ctx.now)


def _new_contacts(new: pl.DataFrame, accounts: _Accounts, now: datetime) -> pl.DataFrame:
    """New people as stored rows (the lookup hashes are the ones matched on)."""
    named = new.filter(pl.col("account").is_not_null()).unique("account", keep="first", maintain_order=True)
    for name, owner_id in named.select("account", "owner_id").rows():
        accounts.get(name, owner_id)
    accounts.uow.session.flush()  # new accounts get their ids
    account_ids = {name: account.id for name, account in accounts.by_name.items()}
    return new.with_columns(
        pl.col("first_name").fill_null(""),
        pl.col("last_name").fill_null(""),
        pl.col("lifecycle_stage").fill_null("lead"),
        pl.col("created_at").fill_null(now),
        pl.col("account").replace_strict(account_ids, default=None, return_dtype=pl.Int64).alias("account_id"),
        pl.Series(CUSTOM, custom_objects(new), dtype=pl.Object),
    ).select(WRITTEN)


def _first_history(contacts: pl.DataFrame, new: pl.DataFrame) -> pl.DataFrame:
    """Each new contact's stage and custom values as its first history entries, dated when it
    was created (the file's date, else the import's)."""
    custom = custom_columns(new)
    values = new.select([pl.col(name).map_elements(change_text, return_dtype=pl.String) for name in custom])
    fields = ["lifecycle_stage", *custom]
    stated = contacts.select("id", "created_at", "lifecycle_stage").with_columns(values)
    return (
        stated.unpivot(index=["id", "created_at"], on=fields, variable_name="field", value_name="value")
        .filter(pl.col("value").is_not_null())
        .select(pl.col("id").alias("contact_id"), "field", "value", pl.col("created_at").alias("changed_at"))
    )


def _merge_into(ctx: LoadContext, contact: Contact, values: dict[str, Any], accounts: _Accounts) -> bool:
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
    added = {name: value for name, value in values[CUSTOM].items() if name not in stored}
    if added:
        contact.custom = values[CUSTOM] | stored
        changed = True
        append_changes(
            ctx.uow, ((contact.id, custom_column_name(name), change_text(v), ctx.now) for name, v in added.items())
        )
    return changed


class _Accounts:
    """Accounts named in the file: found by exact name among the accounts the importer reaches,
    created once when new. Another team's account of the same name is never linked (the JSON
    API refuses that link too) and never revealed: the importer gets an account of their own."""

    def __init__(self, uow: UnitOfWork, principal: Principal, now: datetime) -> None:
        self.uow, self.principal, self.now = uow, principal, now
        self.by_name: dict[str, Account] = {}
        self.looked_up: set[str] = set()

    def look_up(self, names: Iterable[str | None]) -> None:
        """Find every named account in reach in a few queries (a chunk of names each), not one
        per name: a file naming ten thousand accounts asked ten thousand times."""
        wanted = sorted({name for name in names if name is not None} - self.looked_up)
        self.looked_up.update(wanted)
        scope = self.principal.scope("account", Action.READ)
        if not wanted or scope is Scope.NONE:
            return
        for start in range(0, len(wanted), IN_LIST_CHUNK):
            chunk = wanted[start : start + IN_LIST_CHUNK]
            query = within_reach(
                select(Account).where(Account.name.in_(chunk)), Account.owner_id, self.principal, scope
            )
            for account in self.uow.session.scalars(query.order_by(Account.id)):
                self.by_name.setdefault(account.name, account)  # the oldest of a name, as one lookup took

    def get(self, name: str | None, owner_id: int | None) -> Account | None:
        if name is None:
            return None
        self.look_up([name])
        if name not in self.by_name:
            created = Account(name=name, owner_id=owner_id, created_at=self.now)
            self.uow.session.add(created)
            self.by_name[name] = created
        return self.by_name[name]
