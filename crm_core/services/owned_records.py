"""List, read, create and update for every record kind the API serves.

One implementation, configured per kind. A kind is reached through its own owner (contacts,
accounts, deals), through the owner of its contact (tickets, orders), or is a catalogue every
granted role reaches whole (products). The policy is checked and the owner or contact resolved
before anything is written, records out of reach answer 404, and every write is audited with
the names (never the values) of the fields it changed.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, false, select
from sqlalchemy.orm import InstrumentedAttribute

from crm_core.auth.policy import Action, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import Account, Base, Contact
from crm_core.errors import ConflictError, NotFoundError, ValidationFailedError
from crm_core.services import audit
from crm_core.services.access import contact_ids_in_reach, within_reach
from crm_core.services.custom_fields import definitions_of, merge_custom
from crm_core.services.ownership import resolve_owner
from crm_core.services.pagination import PageRequest, encode_cursor, keyset_page
from crm_core.services.person_guard import HELD_BACK
from crm_core.services.rescoring import request_rescore
from crm_core.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class UniqueBy:
    """A field that must be unique, checked through the column that stores its lookup form
    (an encrypted email is unique by its keyed hash, not by its ciphertext)."""

    column: str
    lookup: Callable[[Any], Any] = lambda value: value


class Reach(enum.Enum):
    OWNER = "owner"  # the record's own owner_id
    CONTACT = "contact"  # the owner of the record's contact
    CATALOGUE = "catalogue"  # no owner: a granted role reaches every record


@dataclass(frozen=True)
class OwnedKind:
    entity: str
    model: type[Base]
    sortable: dict[str, InstrumentedAttribute[Any]]
    unique: dict[str, UniqueBy] = field(default_factory=dict)
    references: dict[str, type[Base]] = field(default_factory=dict)
    created_field: str | None = "created_at"
    reach: Reach = Reach.OWNER
    custom_entity: str | None = None  # the custom-field carrier name, when the kind has them
    # What a kind keeps a history of: `tracked(record)` before a write, `on_write(uow, record,
    # tracked_before, now)` after it (contacts: their stage and custom values).
    tracked: Callable[[Any], dict[str, str | None]] | None = None
    on_write: Callable[[UnitOfWork, Any, dict[str, str | None], datetime], None] | None = None

    def column(self, name: str) -> InstrumentedAttribute[Any]:
        attribute: InstrumentedAttribute[Any] = getattr(self.model, name)
        return attribute


def _in_reach(query: Select[Any], kind: OwnedKind, principal: Principal, scope: Scope) -> Select[Any]:
    if kind.reach is Reach.OWNER:
        return within_reach(query, kind.column("owner_id"), principal, scope)
    if kind.reach is Reach.CONTACT:
        through = query.join(Contact, Contact.id == kind.column("contact_id"))
        return within_reach(through, Contact.owner_id, principal, scope)
    return query if scope is Scope.ALL else query.where(false())


def _resolve_links(
    uow: UnitOfWork, principal: Principal, kind: OwnedKind, action: Action, values: dict[str, Any]
) -> dict[str, Any]:
    """Owner or contact of a new or changed record, checked against the caller's reach."""
    if kind.reach is Reach.OWNER and (action is Action.CREATE or "owner_id" in values):
        return values | {"owner_id": resolve_owner(uow, principal, kind.entity, action, values.get("owner_id"))}
    if kind.reach is Reach.CONTACT and values.get("contact_id") is not None:
        contact_id = values["contact_id"]
        if not contact_ids_in_reach(uow, principal, kind.entity, action, [contact_id]):
            raise ValidationFailedError("contact_id", f"{contact_id} is not a known contact in reach")
    return values


def list_records(
    uow: UnitOfWork,
    principal: Principal,
    kind: OwnedKind,
    page: PageRequest,
    filters: Sequence[ColumnElement[bool]] = (),
) -> tuple[list[Any], str | None]:
    scope = principal.require(kind.entity, Action.READ)
    if page.sort not in kind.sortable:
        raise ValidationFailedError("sort", f"'{page.sort}' is not one of {', '.join(sorted(kind.sortable))}")
    sort_column = kind.sortable[page.sort]
    query = _in_reach(select(kind.model).where(*filters), kind, principal, scope)
    rows = list(
        uow.session.scalars(keyset_page(query, sort_column=sort_column, id_column=kind.column("id"), page=page))
    )
    next_cursor = None
    if len(rows) > page.limit:
        rows = rows[: page.limit]
        last = rows[-1]
        next_cursor = encode_cursor(getattr(last, sort_column.key), last.id)
    return rows, next_cursor


def get_record(uow: UnitOfWork, principal: Principal, kind: OwnedKind, record_id: int, action: Action) -> Any:
    """The record, if the principal reaches it for `action`; missing and out of reach are both 404.

    Reach is decided by the same SQL filter the list uses, so a record is readable one by one
    exactly when it would appear in a list.
    """
    scope = principal.require(kind.entity, action)
    query = _in_reach(select(kind.model).where(kind.column("id") == record_id), kind, principal, scope)
    record = uow.session.scalar(query)
    if record is None:
        raise NotFoundError(kind.entity, record_id)
    return record


def _check_values(
    uow: UnitOfWork, principal: Principal, kind: OwnedKind, values: dict[str, Any], record_id: int | None
) -> None:
    for name, value in values.items():
        if value is None and not kind.model.__table__.columns[name].nullable:
            raise ValidationFailedError(name, "may not be null")
    for name, unique in kind.unique.items():
        if values.get(name) is None:
            continue
        clash = uow.session.scalar(
            select(kind.column("id")).where(kind.column(unique.column) == unique.lookup(values[name]))
        )
        if clash is not None and clash != record_id:
            raise ConflictError(name, _clash_message(uow, principal, kind, name, clash))
    for name, target in kind.references.items():
        if values.get(name) is not None and not _linkable(uow, principal, target, values[name]):
            raise ValidationFailedError(name, f"{values[name]} is not a known {target.__tablename__[:-1]} in reach")


def _clash_message(uow: UnitOfWork, principal: Principal, kind: OwnedKind, name: str, clash: int) -> str:
    """Name the clashing record only to a caller who may read it: otherwise the answer would
    tell a rep that another team holds this person (see `person_guard`)."""
    scope = principal.scope(kind.entity, Action.READ)
    visible = scope is not Scope.NONE and uow.session.scalar(
        _in_reach(select(kind.column("id")).where(kind.column("id") == clash), kind, principal, scope)
    )
    if visible:
        return f"this {name} already belongs to {kind.entity} {clash}"
    return HELD_BACK if kind.entity == "contact" else f"this {name} already belongs to another {kind.entity}"


def _linkable(uow: UnitOfWork, principal: Principal, target: type[Base], record_id: int) -> bool:
    """A record may point at a contact or account only if its author can see that one: linking
    a deal to another team's customer would otherwise leak them into the author's views."""
    if target is Contact:
        return bool(contact_ids_in_reach(uow, principal, "contact", Action.READ, [record_id]))
    if target is Account:
        scope = principal.scope("account", Action.READ)
        query = within_reach(select(Account.id).where(Account.id == record_id), Account.owner_id, principal, scope)
        return scope is not Scope.NONE and uow.session.scalar(query) is not None
    return uow.session.get(target, record_id) is not None


def _contacts_concerned(kind: OwnedKind, record: Any) -> list[int | None]:
    """The contact whose features a record feeds: itself, or the contact an order, a ticket or
    a deal belongs to (accounts and products feed none)."""
    if kind.model is Contact:
        return [record.id]
    return [getattr(record, "contact_id", None)]


def create_record(
    uow: UnitOfWork, principal: Principal, kind: OwnedKind, values: dict[str, Any], *, now: datetime
) -> Any:
    principal.require(kind.entity, Action.CREATE)
    values = _resolve_links(uow, principal, kind, Action.CREATE, dict(values))
    if kind.custom_entity is not None:
        values["custom"] = merge_custom(definitions_of(uow, kind.custom_entity), {}, values.get("custom") or {})
    _check_values(uow, principal, kind, values, None)
    stamps = {kind.created_field: now} if kind.created_field and values.get(kind.created_field) is None else {}
    record: Any = kind.model(**(values | stamps))
    uow.session.add(record)
    uow.session.flush()
    if kind.on_write is not None:
        kind.on_write(uow, record, {}, getattr(record, kind.created_field) if kind.created_field else now)
    request_rescore(uow, _contacts_concerned(kind, record), now=now)
    audit.record(
        uow,
        principal,
        action=f"{kind.entity}.create",
        entity=kind.entity,
        entity_id=record.id,
        changed_fields=[name for name, value in values.items() if value is not None],
        at=now,
    )
    return record


def update_record(
    uow: UnitOfWork, principal: Principal, kind: OwnedKind, record_id: int, changes: dict[str, Any], *, now: datetime
) -> Any:
    record = get_record(uow, principal, kind, record_id, Action.UPDATE)
    changes = _resolve_links(uow, principal, kind, Action.UPDATE, dict(changes))
    if kind.custom_entity is not None and "custom" in changes:
        definitions = definitions_of(uow, kind.custom_entity)
        changes["custom"] = merge_custom(definitions, record.custom, changes["custom"] or {})
    _check_values(uow, principal, kind, changes, record_id)
    changed = [name for name, value in changes.items() if getattr(record, name) != value]
    before = kind.tracked(record) if kind.tracked is not None else {}
    concerned_before = _contacts_concerned(kind, record)
    for name in changed:
        setattr(record, name, changes[name])
    if changed:
        uow.session.flush()
        if kind.on_write is not None:
            kind.on_write(uow, record, before, now)
        request_rescore(uow, [*concerned_before, *_contacts_concerned(kind, record)], now=now)
        audit.record(
            uow,
            principal,
            action=f"{kind.entity}.update",
            entity=kind.entity,
            entity_id=record_id,
            changed_fields=changed,
            at=now,
        )
    return record
