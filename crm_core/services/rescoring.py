"""Live scoring's outbox: which contacts changed and wait for new features and scores.

A write that changes what a contact's features are computed from asks for a rescore in its
own transaction (`request_rescore`); the worker claims a batch (`claim`), recomputes and
rescores it, and clears what it handled (`settle`). A request written while its contact was
being rescored is newer than the claim and survives the settle, so no change goes unscored;
many requests for one contact are one row, so a burst is one rescore.

The session remembers that it asked (`ASKED`): whoever owns the queue wakes the worker once
the transaction commits (`crm_core.jobs.live`), never before, so the worker never looks
for a request that is not there yet.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import Table, bindparam, delete, func, or_, select, update

from crm_core.entities import PopulationState, Prediction, RescoreRequest
from crm_core.services.idempotent import upsert_insert
from crm_core.unit_of_work import UnitOfWork

ASKED = "rescore_requested"  # a key of the session's `info`: this transaction asked for rescores
# A claim this old belongs to a worker that died or gave up: its contacts are taken again.
CLAIM_STALE_AFTER = timedelta(minutes=2)
# Two bound values a request: well inside SQLite's limit on one statement's parameters.
REQUESTS_PER_STATEMENT = 5_000


@dataclass(frozen=True)
class Claimed:
    """A contact a worker took, with the request time its rescore answers."""

    contact_id: int
    requested_at: datetime


def request_rescore(uow: UnitOfWork, contact_ids: Iterable[int | None], *, now: datetime) -> int:
    """Ask for each contact to be rescored after this transaction commits; returns how many."""
    wanted = sorted({int(contact_id) for contact_id in contact_ids if contact_id is not None})
    if not wanted:
        return 0
    table = RescoreRequest.__table__
    insert = upsert_insert(uow.session.get_bind().dialect.name)
    for start in range(0, len(wanted), REQUESTS_PER_STATEMENT):
        chunk = wanted[start : start + REQUESTS_PER_STATEMENT]
        statement = insert(table).values([{"contact_id": contact_id, "requested_at": now} for contact_id in chunk])
        uow.session.execute(
            statement.on_conflict_do_update(
                index_elements=[table.c.contact_id],
                set_={"requested_at": statement.excluded.requested_at, "claimed_at": None},
            )
        )
    uow.session.info[ASKED] = True
    return len(wanted)


def claim(uow: UnitOfWork, *, limit: int, now: datetime) -> list[Claimed]:
    """Take up to `limit` waiting contacts, oldest request first, and commit the claim. On
    PostgreSQL rows another worker is claiming are skipped, not waited for."""
    takeable = or_(RescoreRequest.claimed_at.is_(None), RescoreRequest.claimed_at < now - CLAIM_STALE_AFTER)
    query = (
        select(RescoreRequest.contact_id, RescoreRequest.requested_at)
        .where(takeable)
        .order_by(RescoreRequest.requested_at, RescoreRequest.contact_id)
        .limit(limit)
        .with_for_update(skip_locked=True)
    )
    taken = [Claimed(int(contact_id), requested_at) for contact_id, requested_at in uow.session.execute(query)]
    if taken:
        uow.session.execute(
            update(RescoreRequest)
            .where(RescoreRequest.contact_id.in_([row.contact_id for row in taken]), takeable)
            .values(claimed_at=now)
        )
    uow.commit()
    return taken


def settle(uow: UnitOfWork, handled: Iterable[Claimed]) -> int:
    """Clear the requests a rescore answered; a request made since (newer) stays. Commits."""
    rows = [{"contact": row.contact_id, "asked": row.requested_at} for row in handled]
    if not rows:
        return 0
    table: Table = RescoreRequest.__table__  # type: ignore[assignment]
    answered = delete(table).where(
        table.c.contact_id == bindparam("contact"), table.c.requested_at <= bindparam("asked")
    )
    cleared = uow.session.connection().execute(answered, rows).rowcount
    uow.commit()
    return int(cleared or 0)


def waiting(uow: UnitOfWork) -> int:
    """Contacts waiting for a rescore (claimed or not)."""
    return int(uow.session.scalar(select(func.count()).select_from(RescoreRequest)) or 0)


def rescored_live_since(uow: UnitOfWork, since: datetime, *, snapshot: datetime) -> list[int]:
    """Contacts given a score or a population state since `since` on features of their own
    moment, not of the batch `snapshot`: those a live rescore reached while a batch build ran.
    The build's export predates their write, so the build's rows for them are older than it."""
    scored = select(Prediction.contact_id).where(
        Prediction.scored_at >= since, Prediction.feature_timestamp != snapshot
    )
    stated = select(PopulationState.contact_id).where(
        PopulationState.decided_at >= since, PopulationState.feature_timestamp != snapshot
    )
    return sorted(set(uow.session.scalars(scored)) | set(uow.session.scalars(stated)))
