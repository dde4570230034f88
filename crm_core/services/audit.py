"""The audit trail: append-only events in a SHA-256 hash chain, and its verification.

Appenders lock the single chain-head row first, so concurrent writers queue up and the chain
never forks (a row lock on PostgreSQL, the database write lock on SQLite).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select, update

from crm_core.auth.principal import Principal
from crm_core.entities import AuditChainHead, AuditEvent
from crm_core.unit_of_work import UnitOfWork

GENESIS_HASH = "0" * 64
VERIFY_BATCH = 10_000


def event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _hashed_fields(event: AuditEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "at": event.at.isoformat(),
        "actor_user_id": event.actor_user_id,
        "actor_label": event.actor_label,
        "actor_role": event.actor_role,
        "action": event.action,
        "entity": event.entity,
        "entity_id": event.entity_id,
        "changed_fields": event.changed_fields,
        "details": event.details,
        "request_id": event.request_id,
    }


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
) -> AuditEvent:
    """Append one event in the caller's transaction: it commits (or rolls back) with the change."""
    session = uow.session
    # Taking the lock before reading the head keeps every appender on one chain.
    session.execute(
        update(AuditChainHead).where(AuditChainHead.id == 1).values(last_event_id=AuditChainHead.last_event_id)
    )
    head = session.execute(select(AuditChainHead).where(AuditChainHead.id == 1).with_for_update()).scalar_one()
    event = AuditEvent(
        id=head.last_event_id + 1,
        at=at,
        actor_user_id=actor.user_id,
        actor_label=actor.label or actor.role,
        actor_role=actor.role,
        action=action,
        entity=entity,
        entity_id=None if entity_id is None else str(entity_id),
        changed_fields=sorted(changed_fields),
        details=details or {},
        request_id=actor.request_id,
        prev_hash=head.last_hash,
        hash="",
    )
    event.hash = event_hash(head.last_hash, _hashed_fields(event))
    session.add(event)
    head.last_event_id = event.id
    head.last_hash = event.hash
    session.flush()
    return event


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
