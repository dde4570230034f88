"""Importing contacts: validate every row, fold duplicates, merge into existing people, load.

The whole import is one transaction in the caller's unit of work: either every good row lands
or (on a crash) none does. Bad rows never stop good ones; each is reported with its row
number, field and reason. People are matched by email (keyed hash), else by phone and name,
else by name and account, so importing the same file twice adds nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl
from pydantic import ValidationError
from sqlalchemy import func, select, tuple_

from crm_core.auth.policy import Action, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import Account, Contact, CustomFieldDefinition, User
from crm_core.errors import ForbiddenError, ValidationFailedError
from crm_core.imports.contact_rows import IMPORTABLE_CONTACT_FIELDS, MERGEABLE, ContactImportRow
from crm_core.imports.mapping import resolve_mapping, unfed_fields
from crm_core.imports.reading import file_digest
from crm_core.protection.lookup import email_lookup, phone_lookup
from crm_core.schemas.imports import ImportProblem, ImportReport
from crm_core.services import audit
from crm_core.services.access import contact_ids_in_reach, within_reach
from crm_core.services.custom_fields import definitions_of, merge_custom
from crm_core.services.ownership import resolve_owner
from crm_core.services.person_guard import HELD_BACK, erased_hashes, may_readd_erased
from crm_core.unit_of_work import UnitOfWork

CHUNK = 2_000
PROGRESS_EVERY = 10_000
# A file must feed at least one field that can say who a person is.
IDENTIFYING = ("first_name", "last_name", "email", "external_id")
VALUE_SHOWN = 200

MatchKey = tuple[str, ...]
Progress = Callable[[int, int], None]
MATCHED_ON = {"external_id": "external_id", "email": "email", "phone": "phone", "name": "first_name"}
# Keys naming one person in the whole CRM: a match out of the importer's reach refuses the row.
UNIQUE_KEYS = frozenset({"external_id", "email"})
NOT_ASSIGNABLE = "'{}' is not a user you may assign contacts to"


@dataclass
class _Person:
    """One person of the file: the first row naming them, filled in by later rows."""

    key: MatchKey
    rows: list[int]
    values: ContactImportRow
    owner_id: int | None
    email_hash: str | None
    phone_hash: str | None
    extra_rows: list[int] = field(default_factory=list)


def _match_key(row: ContactImportRow, email_hash: str | None, phone_hash: str | None) -> MatchKey:
    if row.external_id is not None:
        return ("external_id", row.external_id)
    if email_hash is not None:
        return ("email", email_hash)
    names = (row.first_name.lower(), row.last_name.lower())
    if phone_hash is not None:
        return ("phone", phone_hash, *names)
    return ("name", *names, (row.account or "").lower())


def _cell(raw: Mapping[str, Any], name: str) -> str | None:
    """The file's own text for `name` (a field, or a custom field's `custom.<name>`), cut short:
    what the person who sent the file sees beside the reason, to find and fix the cell."""
    value = raw.get(name)
    return None if value is None else str(value)[:VALUE_SHOWN]


def _problems(row_number: int, error: ValidationError, raw: Mapping[str, Any]) -> list[ImportProblem]:
    problems = []
    for detail in error.errors():
        name = ".".join(str(part) for part in detail["loc"]) or "row"
        reason = str(detail["msg"]).removeprefix("Value error, ")
        problems.append(ImportProblem(row=row_number, field=name, reason=reason, value=_cell(raw, name)))
    return problems


def import_contacts(
    uow: UnitOfWork,
    principal: Principal,
    frame: pl.DataFrame,
    *,
    mapping: Mapping[str, str] | None = None,
    source: str,
    now: datetime,
    allow_erased: bool = False,
    on_progress: Progress | None = None,
) -> ImportReport:
    """`on_progress(rows validated, rows)` is called every `PROGRESS_EVERY` rows."""
    principal.require("contact", Action.CREATE)
    if allow_erased and not may_readd_erased(principal):
        raise ForbiddenError("only an administrator may re-load people erased on request")
    definitions = definitions_of(uow, "contact")
    importable = [name for name in IMPORTABLE_CONTACT_FIELDS if name != "custom"]
    resolved = resolve_mapping(frame.columns, [*importable, *(f"custom.{name}" for name in definitions)], mapping)
    if not any(name in resolved for name in IDENTIFYING):
        raise ValidationFailedError("mapping", unfed_fields([" or ".join(IDENTIFYING)], frame.columns))
    selected = frame.select([pl.col(column).alias(name) for name, column in resolved.items()])
    people, rejected = _read_people(selected, _Owners(uow, principal), definitions, on_progress)
    erased = erased_hashes(uow, (v for p in people.values() for v in (p.email_hash, p.phone_hash) if v))
    held = [person for person in people.values() if {person.email_hash, person.phone_hash} & erased]
    flagged: list[ImportProblem] = []
    for person in held:
        field = "email" if person.email_hash in erased else "phone"
        if may_readd_erased(principal):
            # An administrator is told plainly, and may re-load on purpose.
            outcome = "loaded as allowed" if allow_erased else "not loaded (allow erased people to load)"
            flagged.append(
                ImportProblem(
                    row=person.rows[0], field=field, reason=f"this person was erased on request before; {outcome}"
                )
            )
        else:
            # Anyone else gets the answer another team's contact gets (see person_guard).
            rejected.extend(
                ImportProblem(row=number, field=field, reason=HELD_BACK)
                for number in [*person.rows, *person.extra_rows]
            )
    held_keys = {person.key for person in held}
    loadable = [person for person in people.values() if allow_erased or person.key not in held_keys]
    counts = _load(uow, principal, loadable, rejected, now)
    duplicates = sum(len(person.extra_rows) for person in people.values())
    report = ImportReport(
        source=source,
        file_sha256=file_digest(frame),
        rows=frame.height,
        inserted=counts["inserted"],
        merged=counts["merged"],
        unchanged=counts["unchanged"],
        duplicates_in_file=duplicates,
        rejected=sorted(rejected, key=lambda problem: (problem.row, problem.field)),
        flagged=sorted(flagged, key=lambda problem: problem.row),
    )
    audit.record(
        uow,
        principal,
        action="contact.import",
        entity="contact",
        changed_fields=sorted(resolved),
        details=report.model_dump(include={"source", "file_sha256", "rows", "inserted", "merged", "unchanged"})
        | {"rejected": len(report.rejected), "flagged": len(flagged), "duplicates_in_file": duplicates},
        at=now,
    )
    return report


def _read_people(
    selected: pl.DataFrame,
    owners: _Owners,
    definitions: dict[str, CustomFieldDefinition],
    on_progress: Progress | None,
) -> tuple[dict[MatchKey, _Person], list[ImportProblem]]:
    """Validate every row; rows naming the same person fold into the first one."""
    rejected: list[ImportProblem] = []
    people: dict[MatchKey, _Person] = {}
    email_given_by: dict[str, _Person] = {}
    for row_number, raw in enumerate(selected.iter_rows(named=True), start=1):
        if on_progress is not None and row_number % PROGRESS_EVERY == 0:
            on_progress(row_number, selected.height)
        try:
            given = {k: v for k, v in raw.items() if v is not None}
            custom = merge_custom(
                definitions,
                {},
                {k.removeprefix("custom."): given.pop(k) for k in list(given) if k.startswith("custom.")},
            )
            row = ContactImportRow.model_validate(given | {"custom": custom})
            owner_id = owners.resolve(row.owner_email)
        except ValidationError as error:
            rejected.extend(_problems(row_number, error, raw))
            continue
        except ValidationFailedError as error:
            problem = ImportProblem(
                row=row_number, field=error.field, reason=error.reason, value=_cell(raw, error.field)
            )
            rejected.append(problem)
            continue
        email_hash, phone_hash = email_lookup(row.email), phone_lookup(row.phone)
        key = _match_key(row, email_hash, phone_hash)
        person = people.get(key)
        earlier = email_given_by.get(email_hash) if email_hash is not None else None
        if earlier is not None and earlier.key != key:
            # One email, two external ids: two people cannot share an address.
            reason = f"is given to another person in this file (row {earlier.rows[0]})"
            rejected.append(ImportProblem(row=row_number, field="email", reason=reason, value=_cell(raw, "email")))
            continue
        if person is None:
            people[key] = person = _Person(key, [row_number], row, owner_id, email_hash, phone_hash)
            if email_hash is not None:
                email_given_by[email_hash] = person
        else:
            person.extra_rows.append(row_number)
            person.values = _fill_gaps(person.values, row)
    return people, rejected


def _load(
    uow: UnitOfWork, principal: Principal, people: list[_Person], rejected: list[ImportProblem], now: datetime
) -> dict[str, int]:
    """Insert new people, fill gaps of matched ones; matches out of the caller's reach are refused."""
    existing, refused = _existing_contacts(uow, people)
    for person in refused:
        reason = "this email belongs to another stored contact"
        rejected.extend(ImportProblem(row=number, field="email", reason=reason) for number in person.rows)
    people = [person for person in people if person not in refused]
    in_reach = contact_ids_in_reach(uow, principal, "contact", Action.UPDATE, {c.id for c in existing.values()})
    accounts = _Accounts(uow, principal, now)
    counts = {"inserted": 0, "merged": 0, "unchanged": 0}
    new_contacts: list[Contact] = []
    for person in people:
        match = existing.get(person.key)
        if match is not None and match.id not in in_reach:
            if person.key[0] in UNIQUE_KEYS:
                # An email or external id names one person in the whole CRM: the row cannot load,
                # and the answer is the one an erased person gets, so neither is revealed.
                rejected.extend(
                    ImportProblem(row=number, field=MATCHED_ON[person.key[0]], reason=HELD_BACK)
                    for number in [*person.rows, *person.extra_rows]
                )
                continue
            match = None  # a phone or name match out of reach is someone else's record: load as new
        if match is None:
            new_contacts.append(_new_contact(person.values, person.owner_id, accounts, now))
            counts["inserted"] += 1
        elif _merge_into(match, person.values, accounts, person.owner_id):
            counts["merged"] += 1
        else:
            counts["unchanged"] += 1
    uow.session.add_all(new_contacts)
    uow.session.flush()
    return counts


def _fill_gaps(kept: ContactImportRow, later: ContactImportRow) -> ContactImportRow:
    gaps = {name: getattr(later, name) for name in MERGEABLE if getattr(kept, name) in (None, "")}
    update = {name: value for name, value in gaps.items() if value not in (None, "")}
    return kept.model_copy(update=update | {"custom": later.custom | kept.custom})


class _Owners:
    """Owner emails of the file resolved to users once each, within the importer's reach."""

    def __init__(self, uow: UnitOfWork, principal: Principal) -> None:
        self.uow, self.principal = uow, principal
        self.cache: dict[str | None, int | ValidationFailedError | None] = {}

    def resolve(self, owner_email: str | None) -> int | None:
        if owner_email not in self.cache:
            self.cache[owner_email] = self._lookup(owner_email)
        found = self.cache[owner_email]
        if isinstance(found, ValidationFailedError):
            raise found
        return found

    def _lookup(self, owner_email: str | None) -> int | ValidationFailedError | None:
        user_id = None
        if owner_email is not None:
            user_id = self.uow.session.scalar(select(User.id).where(User.email == owner_email))
            if user_id is None:
                return ValidationFailedError("owner_email", NOT_ASSIGNABLE.format(owner_email))
        try:
            return resolve_owner(self.uow, self.principal, "contact", Action.CREATE, user_id)
        except ValidationFailedError:
            # The same answer as for no such user: who exists outside one's team is not told.
            return ValidationFailedError("owner_email", NOT_ASSIGNABLE.format(owner_email))


class _Accounts:
    """Accounts named in the file: found by exact name among the accounts the importer reaches,
    created once when new. Another team's account of the same name is never linked (the JSON
    API refuses that link too) and never revealed: the importer gets an account of their own."""

    def __init__(self, uow: UnitOfWork, principal: Principal, now: datetime) -> None:
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


def _new_contact(values: ContactImportRow, owner_id: int | None, accounts: _Accounts, now: datetime) -> Contact:
    return Contact(
        external_id=values.external_id,
        first_name=values.first_name,
        last_name=values.last_name,
        email=values.email,
        phone=values.phone,
        address=values.address,
        notes=values.notes,
        lifecycle_stage=values.lifecycle_stage.value,
        account=accounts.get(values.account, owner_id),
        owner_id=owner_id,
        created_at=values.created_at or now,
        custom=values.custom,
    )


def _merge_into(contact: Contact, values: ContactImportRow, accounts: _Accounts, owner_id: int | None) -> bool:
    """Fill the stored contact's empty fields from the file; never overwrite a stored value."""
    changed = False
    for name in ("external_id", "first_name", "last_name", "email", "phone", "address", "notes"):
        if getattr(contact, name) in (None, "") and getattr(values, name) not in (None, ""):
            setattr(contact, name, getattr(values, name))
            changed = True
    if contact.account_id is None and values.account is not None:
        contact.account = accounts.get(values.account, owner_id)
        changed = True
    stored = contact.custom or {}
    if set(values.custom) - set(stored):
        contact.custom = values.custom | stored
        changed = True
    return changed


def _existing_contacts(uow: UnitOfWork, people: list[_Person]) -> tuple[dict[MatchKey, Contact], list[_Person]]:
    """Stored contacts the file's people match, and the people refused because their email
    belongs to another stored contact than their external id names."""
    found, refused = _matched_by_id_or_email(uow, people)
    found.update(_matched_by_phone(uow, people))
    found.update(_matched_by_name(uow, people))
    return found, refused


def _matched_by_id_or_email(uow: UnitOfWork, people: list[_Person]) -> tuple[dict[MatchKey, Contact], list[_Person]]:
    found: dict[MatchKey, Contact] = {}
    by_external_id = {person.key[1]: person for person in people if person.key[0] == "external_id"}
    for chunk in _chunks(list(by_external_id)):
        for contact in uow.session.scalars(select(Contact).where(Contact.external_id.in_(chunk))):
            found[by_external_id[contact.external_id or ""].key] = contact
    # A person with a new external id may still be a stored contact, matched by email; one
    # matched by external id must not take an email another stored contact holds.
    email_keys = {
        person.email_hash: person for person in people if person.email_hash is not None and person.key[0] in UNIQUE_KEYS
    }
    refused: list[_Person] = []
    for chunk in _chunks(list(email_keys)):
        for contact in uow.session.scalars(select(Contact).where(Contact.email_hash.in_(chunk))):
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


def _matched_by_phone(uow: UnitOfWork, people: list[_Person]) -> dict[MatchKey, Contact]:
    found: dict[MatchKey, Contact] = {}
    phone_keys = {person.key for person in people if person.key[0] == "phone"}
    by_phone = {person.phone_hash for person in people if person.key[0] == "phone"}
    for chunk in _chunks(list(by_phone)):
        query = select(Contact).where(Contact.phone_hash.in_(chunk), Contact.email_hash.is_(None))
        for contact in uow.session.scalars(query):
            key = ("phone", contact.phone_hash or "", contact.first_name.lower(), contact.last_name.lower())
            if key in phone_keys:
                found.setdefault(key, contact)
    return found


def _matched_by_name(uow: UnitOfWork, people: list[_Person]) -> dict[MatchKey, Contact]:
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
