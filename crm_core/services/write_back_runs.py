"""Resumable batch write-back: each chunk of scores and the run's progress commit together.

A job killed at any point (SIGKILL, OOM, a reboot) leaves whole chunks only, and a progress row
that counts exactly those; running the job again resumes after the last committed contact. The
predictions' unique identity still makes any overlap a no-op, so even a run that lost its
progress row could only repeat work, never duplicate a score.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session, sessionmaker

from crm_core.auth.principal import Principal
from crm_core.entities import Prediction, ShadowPrediction, WriteBackRun
from crm_core.services.predictions import NewPrediction, WriteBackResult, record_predictions
from crm_core.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class RunKey:
    """What one write-back run scores: one model version on one feature snapshot."""

    model_name: str
    model_version: str
    feature_timestamp: datetime
    shadow: bool = False

    @property
    def target(self) -> str:
        return str((ShadowPrediction if self.shadow else Prediction).__tablename__)


@dataclass
class RunProgress:
    rows_before: int  # rows an earlier, interrupted attempt had already committed
    written: WriteBackResult


# Yields chunks of predictions for contacts with ids above the given one, in contact id order.
ChunkSource = Callable[[int], Iterator[list[NewPrediction]]]


def _open_run(session_factory: sessionmaker[Session], key: RunKey, total_rows: int, now: datetime) -> WriteBackRun:
    """The unfinished run for `key`, or a new one. A finished run is started over (idempotently):
    asking for a write-back again means checking every row is there."""
    with UnitOfWork(session_factory) as uow:
        run = uow.session.scalars(
            select(WriteBackRun)
            .where(
                WriteBackRun.target == key.target,
                WriteBackRun.model_name == key.model_name,
                WriteBackRun.model_version == key.model_version,
                WriteBackRun.feature_timestamp == key.feature_timestamp,
            )
            .with_for_update()
        ).one_or_none()
        if run is None:
            run = WriteBackRun(
                target=key.target,
                model_name=key.model_name,
                model_version=key.model_version,
                feature_timestamp=key.feature_timestamp,
                total_rows=total_rows,
                rows_done=0,
                inserted=0,
                chunks_done=0,
                last_contact_id=0,
                attempts=1,
                started_at=now,
            )
            uow.session.add(run)
        else:
            if run.finished_at is not None:
                run.rows_done, run.inserted, run.chunks_done, run.last_contact_id = 0, 0, 0, 0
                run.finished_at, run.started_at = None, now
            run.attempts += 1
            run.total_rows = total_rows
        uow.commit()
        return run


def _advance(stored: WriteBackRun, rows: list[NewPrediction], written: WriteBackResult) -> None:
    """Count into the run's progress the rows of this chunk that lie past its high-water mark as
    stored now, not as this attempt last read it.

    The two differ when another attempt's transaction committed in between: on PostgreSQL a
    client killed just after sending COMMIT is still committed by its server backend, which can
    happen after the next attempt read the progress. Its rows make our insert wait and then count
    as already present, and the run row, read locked after that wait, already counts them.
    """
    fresh = [row.contact_id for row in rows if row.contact_id > stored.last_contact_id]
    stored.inserted += written.inserted
    if fresh:
        stored.rows_done += len(fresh)
        stored.chunks_done += 1
        stored.last_contact_id = max(fresh)


def write_back_resumably(
    session_factory: sessionmaker[Session],
    principal: Principal,
    key: RunKey,
    *,
    total_rows: int,
    chunks: ChunkSource,
    scored_at: datetime,
    on_chunk: Callable[[int], None] | None = None,
) -> RunProgress:
    """Write every chunk `chunks` yields after the run's high-water mark, each chunk in one
    transaction with the run's progress; mark the run finished after the last one."""
    run = _open_run(session_factory, key, total_rows, scored_at)
    progress = RunProgress(rows_before=run.rows_done, written=WriteBackResult())
    if on_chunk is not None and run.rows_done:
        on_chunk(run.rows_done)
    for rows in chunks(run.last_contact_id):
        if not rows:
            continue
        with UnitOfWork(session_factory) as uow:
            written = record_predictions(uow, principal, rows, scored_at=scored_at, shadow=key.shadow)
            _advance(uow.session.get_one(WriteBackRun, run.id, with_for_update=True), rows, written)
            uow.commit()
        progress.written.inserted += written.inserted
        progress.written.already_present += written.already_present
        progress.written.rejected.extend(written.rejected)
        if on_chunk is not None:
            on_chunk(len(rows))
    with UnitOfWork(session_factory) as uow:
        uow.session.get_one(WriteBackRun, run.id).finished_at = scored_at
        uow.commit()
    return progress
