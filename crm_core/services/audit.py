"""The audit trail: append-only events in a SHA-256 hash chain, and its verification.

Appenders claim the next id on the single chain-head row first, so concurrent writers queue up
and the chain never forks (a row lock on PostgreSQL, the database write lock on SQLite).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update

from crm_core.auth.principal import Principal
from crm_core.entities import AuditChainHead, AuditEvent
from crm_core.unit_of_work import UnitOfWork

GENESIS_HASH = "0" * 64
VERIFY_BATCH = 10_000
_HEAD = cast(Table, AuditChainHead.__table__)
_EVENTS = cast(Table, AuditEvent.__table__)
# Built once: SQLAlchemy then reuses their compiled form on every append.
_CLAIM_NEXT_ID = (
    update(_HEAD)
    .where(_HEAD.c.id == 1)
    .values(last_event_id=_HEAD.c.last_event_id + 1)
    .returning(_HEAD.c.last_event_id, _HEAD.c.last_hash)
)
_APPEND = insert(_EVENTS)
_ADVANCE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(last_hash=bindparam("digest"))


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


_HASHED = (
    "id",
    "at",
    "actor_user_id",
    "actor_label",
    "actor_role",
    "action",
    "entity",
    "entity_id",
    "changed_fields",
    "details",
    "request_id",
)


def _canonical(values: dict[str, Any]) -> dict[str, Any]:
    """The fields a hash covers, as they read back from the database (times as ISO text)."""
    fields = {name: values[name] for name in _HASHED}
    fields["at"] = values["at"].isoformat()
    return fields


def _hashed_fields(event: AuditEvent) -> dict[str, Any]:
    return _canonical({name: getattr(event, name) for name in _HASHED})


def record(
    uow: UnitOfWork,
    actor: Principal,
    *,
    action: str,
    entity: str,
    entity_id: object = None,
    changed_fields: Iterable[str] = (),
    details: dict[str, Any] | None = None,
    at: datetime,
) -> int:
    """Append one event in the caller's transaction: it commits (or rolls back) with the change.
    Returns the event's id.

    Three prebuilt Core statements on the session's connection, not the ORM's load-modify-flush
    (which cost more than the scoring it audited on the online path): claiming the next id in
    the same UPDATE that locks the head both serialises appenders and reads the hash to chain
    onto.
    """
    connection = uow.session.connection()
    claimed = connection.execute(_CLAIM_NEXT_ID).one()
    event_id, prev_hash = int(claimed.last_event_id), str(claimed.last_hash)
    values: dict[str, Any] = {
        "id": event_id,
        "at": at,
        "actor_user_id": actor.user_id,
        "actor_label": actor.label or actor.role,
        "actor_role": actor.role,
        "action": action,
        "entity": entity,
        "entity_id": None if entity_id is None else str(entity_id),
        "changed_fields": sorted(changed_fields),
        "details": details or {},
        "request_id": actor.request_id,
    }
    digest = event_hash(prev_hash, _canonical(values))
    connection.execute(_APPEND, {**values, "prev_hash": prev_hash, "hash": digest})
    connection.execute(_ADVANCE_HEAD, {"digest": digest})
    return event_id


@dataclass(frozen=True)
class ChainCheck:
    events: int
    first_broken_id: int | None

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


def verify_chain(uow: UnitOfWork) -> ChainCheck:
    """Recompute every hash in order; the first event whose hash or link does not match is
    where tampering (an edit, an insertion or a deletion) begins."""
    previous, expected_id, checked = GENESIS_HASH, 1, 0
    last_id = 0
    while True:
        batch = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(VERIFY_BATCH)
        ).all()
        if not batch:
            break
        for event in batch:
            if (
                event.id != expected_id
                or event.prev_hash != previous
                or event_hash(previous, _hashed_fields(event)) != event.hash
            ):
                return ChainCheck(checked, event.id)
            previous, expected_id, checked = event.hash, expected_id + 1, checked + 1
        last_id = batch[-1].id
    head = uow.session.get(AuditChainHead, 1)
    if head is not None and (head.last_hash != previous or head.last_event_id != checked):
        return ChainCheck(checked, checked + 1)  # the newest events were removed
    return ChainCheck(checked, None)
