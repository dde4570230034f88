"""SIGKILL a batch write-back of 30,000 scores at random moments, 50 times, resume after each,
and find whole chunks only, progress that agrees with the rows, and nothing lost or doubled.

Each run is a child of a fork server that imported the write path once, so a run starts in
milliseconds rather than an interpreter's second; SIGKILL gives it no chance to clean up. On
PostgreSQL a killed client's last COMMIT may still be landing when the check reads, so the check
reads one snapshot (REPEATABLE READ) rather than a fresh one per statement.
"""

from __future__ import annotations

import multiprocessing
import random
import signal
import time
from dataclasses import dataclass
from multiprocessing.synchronize import Event

import pytest
from sqlalchemy import Engine, func, select

from benchmarks.synthetic import bare_contacts
from crm_core.bulk_load import load_tables
from crm_core.entities import Prediction, WriteBackRun
from crm_core.protection import keyring
from crm_core.protection.keyring import FieldKeyring
from tests.crash.writer import expected_score, write_scores

pytestmark = pytest.mark.slow

CONTACTS = 30_000
CHUNK = 1_500
KILLS = 50
SEED = 20261124


@dataclass
class Tally:
    mid_run: int = 0  # kills that landed while chunks were being written
    completed: int = 0  # runs that finished before their kill came


def _write(url: str, version: str, writing: Event, keys: tuple[tuple[str, ...], str]) -> None:
    keyring.install(FieldKeyring(*keys))  # the forked writer signs its audit events like the parent
    write_scores(url, version, CONTACTS, CHUNK, writing.set)


def _timed_clean_run(
    fork: multiprocessing.context.ForkServerContext, url: str, version: str, keys: tuple[tuple[str, ...], str]
) -> float:
    """Seconds one uninterrupted write-back takes, from its first chunk to its exit."""
    writing = fork.Event()
    writer = fork.Process(target=_write, args=(url, version, writing, keys))
    writer.start()
    assert writing.wait(60), "the writer did not start writing"
    began = time.perf_counter()
    writer.join()
    assert writer.exitcode == 0
    return time.perf_counter() - began


def _check_consistent(engine: Engine, version: str) -> tuple[int, bool]:
    """(rows committed for `version`, run finished), after asserting they agree exactly."""
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            connection.execution_options(isolation_level="REPEATABLE READ")
        run = connection.execute(select(WriteBackRun).where(WriteBackRun.model_version == version)).one_or_none()
        ids = (
            connection.execute(
                select(Prediction.contact_id).where(Prediction.model_version == version).order_by(Prediction.contact_id)
            )
            .scalars()
            .all()
        )
        scores = dict(
            connection.execute(
                select(Prediction.contact_id, Prediction.score)
                .where(Prediction.model_version == version)
                .where(Prediction.contact_id % 997 == 0)
            ).all()
        )
    done = 0 if run is None else run.rows_done
    assert len(ids) == done, f"v{version}: {len(ids)} rows stored but the run's progress says {done}"
    assert done % CHUNK == 0 or done == CONTACTS, f"v{version}: a partial chunk ({done} rows)"
    assert ids == list(range(1, done + 1)), f"v{version}: a gap or a duplicate among the first {done} contacts"
    assert run is None or run.last_contact_id == done
    assert all(score == expected_score(contact_id, version) for contact_id, score in scores.items())
    return done, run is not None and run.finished_at is not None


def test_sigkilled_write_back_resumes_with_nothing_partial_lost_or_doubled(database_url: str, engine: Engine) -> None:
    load_tables(engine, {"contacts": bare_contacts(CONTACTS)})
    rng = random.Random(SEED)
    tally, version_number = Tally(), 1
    active = keyring.active()
    keys = (active.encryption_keys, active.lookup_key)
    fork = multiprocessing.get_context("forkserver")
    fork.set_forkserver_preload([__name__, "psycopg"])
    # One clean run first: the kill moments are drawn inside its duration, on whatever machine.
    clean = _timed_clean_run(fork, database_url, str(version_number), keys)
    assert _check_consistent(engine, str(version_number)) == (CONTACTS, True)
    version_number += 1
    for _ in range(KILLS):
        version = str(version_number)
        # The kill comes inside what is left of the run: a resumed run has only the rest to write.
        left = (CONTACTS - _check_consistent(engine, version)[0]) / CONTACTS
        writing = fork.Event()
        writer = fork.Process(target=_write, args=(database_url, version, writing, keys))
        writer.start()
        assert writing.wait(60), "the writer did not start writing"
        writer.join(timeout=rng.uniform(0.0, clean * left))
        if writer.is_alive():
            writer.kill()  # one that ends just now is reaped by the forkserver: no error, see its exit code
        writer.join()
        assert writer.exitcode in (0, -signal.SIGKILL)
        tally.mid_run += writer.exitcode == -signal.SIGKILL
        _, finished = _check_consistent(engine, version)
        if finished:
            tally.completed += 1
            version_number += 1
    write_scores(database_url, str(version_number), CONTACTS, CHUNK, lambda: None)
    for number in range(1, version_number + 1):
        assert _check_consistent(engine, str(number)) == (CONTACTS, True)
    with engine.connect() as connection:
        total = connection.execute(select(func.count()).select_from(Prediction)).scalar_one()
    assert total == CONTACTS * version_number, "every version whole, none doubled"
    print(
        f"\n{tally.mid_run} kills mid-write within a clean run's {clean:.2f} s, "
        f"{tally.completed} runs finished between kills, {version_number} versions"
    )
    assert tally.mid_run >= KILLS * 0.6, "most kills must land while chunks are being written"
