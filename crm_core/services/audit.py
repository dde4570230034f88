"""The audit trail: append-only events in a keyed hash chain (HMAC-SHA-256), and its verification.

Appenders claim the next id on the single chain-head row first, so concurrent writers queue up
and the chain never forks (a row lock on PostgreSQL, the database write lock on SQLite).
"""

from __future__ import annotations

import hmac
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, cast

from sqlalchemy import Table, bindparam, insert, select, update

from crm_core.auth.principal import Principal
from crm_core.entities import AuditChainHead, AuditEvent
from crm_core.services.audit_seal import cut_over_seal, keyed_event_hash, unkeyed_event_hash
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
    digest = keyed_event_hash(prev_hash, _canonical(values))
    connection.execute(_APPEND, {**values, "prev_hash": prev_hash, "hash": digest})
    connection.execute(_ADVANCE_HEAD, {"digest": digest})
    return event_id


@dataclass(frozen=True)
class ChainCheck:
    events: int
    first_broken_id: int | None
    reason: str | None = None

    @property
    def intact(self) -> bool:
        return self.first_broken_id is None


@dataclass(frozen=True)
class ChainHead:
    """The newest event's id and hash, as exported outside the database at a verify or backup."""

    last_event_id: int
    last_hash: str


def verify_chain(uow: UnitOfWork, exported_heads: Sequence[ChainHead] = ()) -> ChainCheck:
    """Recompute every hash in order; the first event whose hash or link does not match is
    where tampering (an edit, an insertion or a deletion) begins.

    Events from the head's `keyed_from_id` on carry a keyed HMAC, so an edit with every later
    hash recomputed still fails without the key; the cut-over itself is sealed with the key.
    Heads exported earlier (`exported_heads`) must still be in the chain with the same hash,
    which also catches a rewrite by someone holding the key, back to the last export.
    """
    head = uow.session.get(AuditChainHead, 1)
    keyed_from = head.keyed_from_id if head is not None else 1
    if head is not None and not hmac.compare_digest(head.keyed_from_seal or "", cut_over_seal(keyed_from)):
        return ChainCheck(0, 1, "the chain's keyed cut-over was changed, or the keys are not this home's")
    pinned = {known.last_event_id: known.last_hash for known in exported_heads}
    previous, expected_id, checked = GENESIS_HASH, 1, 0
    last_id = 0
    while True:
        batch = uow.session.scalars(
            select(AuditEvent).where(AuditEvent.id > last_id).order_by(AuditEvent.id).limit(VERIFY_BATCH)
        ).all()
        if not batch:
            break
        for event in batch:
            seal = keyed_event_hash if event.id >= keyed_from else unkeyed_event_hash
            if (
                event.id != expected_id
                or event.prev_hash != previous
                or not hmac.compare_digest(seal(previous, _hashed_fields(event)), event.hash)
            ):
                return ChainCheck(checked, event.id, "its hash or its link to the previous event does not match")
            if event.id in pinned and pinned.pop(event.id) != event.hash:
                return ChainCheck(checked, event.id, "it differs from the head exported at an earlier verify")
            previous, expected_id, checked = event.hash, expected_id + 1, checked + 1
        last_id = batch[-1].id
    if head is not None and (head.last_hash != previous or head.last_event_id != checked):
        return ChainCheck(checked, checked + 1, "the newest events were removed")
    if pinned:
        return ChainCheck(checked, min(pinned), "an event exported at an earlier verify is gone")
    return ChainCheck(checked, None)


def chain_head(uow: UnitOfWork) -> ChainHead:
    head = uow.session.get_one(AuditChainHead, 1)
    return ChainHead(head.last_event_id, head.last_hash)
