"""List, read, create and update for records that have an owner (contacts, accounts).

One implementation, configured per kind: the policy is checked and the owner resolved before
anything is written, records out of reach answer 404, and every write is audited with the
names (never the values) of the fields it changed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, select
from sqlalchemy.orm import InstrumentedAttribute

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import Base
from crm_core.errors import ConflictError, NotFoundError, ValidationFailedError
from crm_core.services import audit
from crm_core.services.access import within_reach
from crm_core.services.ownership import resolve_owner
from crm_core.services.pagination import PageRequest, encode_cursor, keyset_page
from crm_core.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class OwnedKind:
    entity: str
    model: type[Base]
    sortable: dict[str, InstrumentedAttribute[Any]]
    unique: tuple[str, ...] = ()
    references: dict[str, type[Base]] = field(default_factory=dict)
    created_field: str = "created_at"

    def column(self, name: str) -> InstrumentedAttribute[Any]:
        attribute: InstrumentedAttribute[Any] = getattr(self.model, name)
        return attribute


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
    query = within_reach(select(kind.model).where(*filters), kind.column("owner_id"), principal, scope)
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
    query = within_reach(
        select(kind.model).where(kind.column("id") == record_id), kind.column("owner_id"), principal, scope
    )
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
    for name in kind.unique:
        if values.get(name) is None:
            continue
        clash = uow.session.scalar(select(kind.column("id")).where(kind.column(name) == values[name]))
        if clash is not None and clash != record_id:
            raise ConflictError(name, f"'{values[name]}' already belongs to another {kind.entity}")
    for name, target in kind.references.items():
        if values.get(name) is not None and uow.session.get(target, values[name]) is None:
            raise ValidationFailedError(name, f"{values[name]} does not exist")


def create_record(
    uow: UnitOfWork, principal: Principal, kind: OwnedKind, values: dict[str, Any], *, now: datetime
) -> Any:
    values = dict(values)
    values["owner_id"] = resolve_owner(uow, principal, kind.entity, Action.CREATE, values.get("owner_id"))
    _check_values(uow, principal, kind, values, None)
    record: Any = kind.model(**values, **{kind.created_field: now})
    uow.session.add(record)
    uow.session.flush()
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
    if "owner_id" in changes:
        changes = dict(changes, owner_id=resolve_owner(uow, principal, kind.entity, Action.UPDATE, changes["owner_id"]))
    _check_values(uow, principal, kind, changes, record_id)
    changed = [name for name, value in changes.items() if getattr(record, name) != value]
    for name in changed:
        setattr(record, name, changes[name])
    if changed:
        uow.session.flush()
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
