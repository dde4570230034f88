"""The SQLite write gate: writers on one file queue on it instead of sleeping in SQLite's busy
handler, within a process and across processes, and a forked child starts with a fresh gate.

The engines here get a busy timeout of 20 ms, far below the product's 30 s: a writer that
reached SQLite's lock while another held it would fail with "database is locked" almost at
once, so zero failures means the gate kept them apart."""

from __future__ import annotations

import multiprocessing
import os
import threading
import time
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import OperationalError

from crm_core.sqlite_gate import SqliteWriteGate, gate_for, hold_write_gate, install_write_gate

SHORT_BUSY_TIMEOUT = 0.02
WRITERS = 6
TRANSACTIONS = 25


def _engine(path: Path, *, gated: bool) -> Engine:
    engine = create_engine(f"sqlite:///{path}", connect_args={"timeout": SHORT_BUSY_TIMEOUT})
    if gated:
        install_write_gate(engine, timeout_seconds=10)
    return engine


def _prepare(path: Path) -> None:
    engine = create_engine(f"sqlite:///{path}")
    with engine.begin() as connection:
        connection.exec_driver_sql("PRAGMA journal_mode=WAL")
        connection.exec_driver_sql("CREATE TABLE IF NOT EXISTS written (writer INTEGER, n INTEGER)")
    engine.dispose()


def _write_many(engine: Engine, writer: int, failures: list[str]) -> None:
    for n in range(TRANSACTIONS):
        try:
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO written VALUES (:w, :n)"), {"w": writer, "n": n})
                time.sleep(0.002)  # hold the write lock long enough for others to collide
                connection.execute(text("INSERT INTO written VALUES (:w, :n)"), {"w": -writer, "n": n})
        except OperationalError as error:
            failures.append(str(error.orig))


def _threads_write(engine: Engine) -> list[str]:
    failures: list[str] = []
    threads = [threading.Thread(target=_write_many, args=(engine, w, failures)) for w in range(1, WRITERS + 1)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def _count(path: Path) -> int:
    engine = create_engine(f"sqlite:///{path}")
    with engine.connect() as connection:
        rows = int(connection.execute(text("SELECT count(*) FROM written")).scalar_one())
    engine.dispose()
    return rows


def test_without_the_gate_these_writers_collide(tmp_path: Path) -> None:
    """The control: the same workload, ungated, does hit SQLite's lock."""
    path = tmp_path / "plain.db"
    _prepare(path)
    failures = _threads_write(_engine(path, gated=False))
    assert any("locked" in failure for failure in failures), "the workload is meant to collide without the gate"


def test_threads_queue_on_the_gate_and_none_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "threads.db"
    _prepare(path)
    failures = _threads_write(_engine(path, gated=True))
    assert failures == []
    assert _count(path) == WRITERS * TRANSACTIONS * 2


def _process_writer(path: str, writer: int) -> int:
    failures: list[str] = []
    _write_many(_engine(Path(path), gated=True), writer, failures)
    return len(failures)


def test_processes_queue_on_the_gate_file_and_none_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "processes.db"
    _prepare(path)
    with multiprocessing.get_context("spawn").Pool(3) as pool:
        refused = pool.starmap(_process_writer, [(str(path), writer) for writer in (1, 2, 3)])
    assert refused == [0, 0, 0]
    assert _count(path) == 3 * TRANSACTIONS * 2
    assert (tmp_path / "processes.db.write-gate").exists()


def _gated(path: Path) -> tuple[Engine, SqliteWriteGate]:
    _prepare(path)
    return _engine(path, gated=True), gate_for(str(path), 10)


def test_bulk_writes_sent_to_the_driver_take_the_gate_too(tmp_path: Path) -> None:
    engine, gate = _gated(tmp_path / "bulk.db")
    with engine.connect() as connection:
        assert not gate.held
        hold_write_gate(connection)
        assert gate.held
        connection.rollback()
    assert not gate.held, "handing the connection back to the pool passes the gate on"


@pytest.mark.skipif(not hasattr(os, "fork"), reason="fork is POSIX-only")
def test_a_forked_child_starts_with_the_gate_free(tmp_path: Path) -> None:
    engine, gate = _gated(tmp_path / "fork.db")
    with engine.connect() as connection:
        hold_write_gate(connection)
        assert gate.held
        child = os.fork()
        if child == 0:  # the child: its copy of the held gate must not block it
            os._exit(0 if not gate.held else 1)
        _, status = os.waitpid(child, 0)
        connection.rollback()
    assert os.waitstatus_to_exitcode(status) == 0
