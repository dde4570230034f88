"""Resumable write-back when two attempts of one run overlap.

The SIGKILL drill finds this only by timing: on PostgreSQL a killed client's last COMMIT can
still land after the next attempt read the run's progress. Here the overlap is made on purpose,
by committing a chunk through a second attempt from inside the first attempt's chunk source.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pytest
from sqlalchemy import Engine, func, select

from benchmarks.synthetic import bare_contacts
from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.bulk_load import load_tables
from crm_core.db import make_session_factory
from crm_core.entities import Prediction, WriteBackRun
from crm_core.services.predictions import NewPrediction
from crm_core.services.write_back_runs import RunKey, write_back_resumably

CONTACTS = 30
CHUNK = 10
KEY = RunKey("churn", "3", datetime(2026, 11, 1))
SCORED_AT = datetime(2026, 11, 2)
SERVICE = Principal.system(Role.MODEL_SERVICE, "tests")


class KilledAfterCommitError(Exception):
    """Stands in for a process that died after its chunk's COMMIT reached the database."""


def _chunk(start: int) -> list[NewPrediction]:
    return [
        NewPrediction(
            contact_id=contact_id,
            model_name=KEY.model_name,
            model_version=KEY.model_version,
            mlflow_run_id="overlap-test",
            score=contact_id / 100,
            band="low",
            top_factors=[],
            feature_timestamp=KEY.feature_timestamp,
        )
        for contact_id in range(start, min(start + CHUNK, CONTACTS + 1))
    ]


def _chunks_from(after: int) -> Iterator[list[NewPrediction]]:
    yield from (_chunk(start) for start in range(after + 1, CONTACTS + 1, CHUNK))


def test_a_chunk_committed_by_an_overlapping_attempt_is_counted_once(engine: Engine) -> None:
    load_tables(engine, {"contacts": bare_contacts(CONTACTS)})
    sessions = make_session_factory(engine)

    def one_chunk_then_killed(after: int) -> Iterator[list[NewPrediction]]:
        yield _chunk(after + 1)
        raise KilledAfterCommitError

    def overlapped(after: int) -> Iterator[list[NewPrediction]]:
        # This attempt has read the progress (`after`); another attempt commits the same chunk.
        with pytest.raises(KilledAfterCommitError):
            write_back_resumably(
                sessions, SERVICE, KEY, total_rows=CONTACTS, chunks=one_chunk_then_killed, scored_at=SCORED_AT
            )
        yield from _chunks_from(after)

    progress = write_back_resumably(sessions, SERVICE, KEY, total_rows=CONTACTS, chunks=overlapped, scored_at=SCORED_AT)

    with sessions() as session:
        run = session.scalars(select(WriteBackRun)).one()
        stored = session.scalar(select(func.count()).select_from(Prediction))
    assert stored == CONTACTS
    assert (run.rows_done, run.last_contact_id, run.chunks_done) == (CONTACTS, CONTACTS, CONTACTS // CHUNK)
    assert run.inserted == CONTACTS, "the overlapping attempt's inserts count once, in either attempt"
    assert run.finished_at == SCORED_AT and run.attempts == 2
    assert (progress.written.inserted, progress.written.already_present) == (CONTACTS - CHUNK, CHUNK)
