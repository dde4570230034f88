"""One writer at a time per SQLite file, queued on locks that hand over at once.

SQLite lets one connection write at a time. A connection that finds the file locked sleeps in
SQLite's busy handler, backing off to 100 ms per try, and is not woken when the lock frees. A
server answering many write requests therefore stalls: at 100 scoring requests per second the
handler's sleeps pushed the median answer to seconds while the writes themselves took under a
millisecond, and two server processes on one file stalled each other the same way.

Here a connection's first write of a transaction first takes the file's gate: a thread lock
shared by every engine on that file in this process, then an advisory lock on a file beside
the database (`<database>.write-gate`), held across processes. The gate passes on as soon as
the connection goes back to the pool (a session hands it back on commit or rollback), so by
the time SQLite is asked for its own lock, it is free.

Waiting is bounded by the busy timeout: past it the statement goes ahead and SQLite decides,
exactly as without the gate, so a holder that never hands back cannot stall writes longer than
before.
"""

from __future__ import annotations

import fcntl
import os
import threading
import time
import weakref
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, event

# Statements that never take SQLite's write lock; anything else (DML, DDL, SAVEPOINT) may.
_READ_PREFIXES = ("SELECT", "PRAGMA", "EXPLAIN")
# How long a process waits between tries for the cross-process lock: short, because writes are.
_FILE_LOCK_POLL_SECONDS = 0.0005


class SqliteWriteGate:
    def __init__(self, lock_path: Path | None, timeout_seconds: float) -> None:
        self._lock_path = lock_path
        self._timeout_seconds = timeout_seconds
        self._file: int | None = None
        self._reset()

    def _reset(self) -> None:
        """Fresh state: at creation, and in a forked child (whose copy of a held lock would
        never be released, and whose inherited lock file is its parent's: kept open, it would
        keep the parent's file lock alive after the parent died)."""
        if self._file is not None:
            os.close(self._file)
        self._lock = threading.Lock()
        self._holder: int | None = None  # id() of the DB-API connection holding the gate
        self._file = None
        self._file_locked = False

    def enter(self, dbapi_connection: Any) -> None:
        """Wait for the gate on behalf of `dbapi_connection`; a no-op when it already holds it."""
        if self._holder == id(dbapi_connection):
            return
        deadline = time.monotonic() + self._timeout_seconds
        if not self._lock.acquire(timeout=self._timeout_seconds):
            return
        self._holder = id(dbapi_connection)
        self._file_locked = self._lock_file(deadline)

    def leave(self, dbapi_connection: Any) -> None:
        """Pass the gate on, if `dbapi_connection` holds it."""
        if self._holder != id(dbapi_connection):
            return
        if self._file_locked and self._file is not None:
            fcntl.flock(self._file, fcntl.LOCK_UN)
        self._file_locked = False
        self._holder = None
        self._lock.release()

    @property
    def held(self) -> bool:
        return self._holder is not None

    def _lock_file(self, deadline: float) -> bool:
        # Polled, not a blocking flock: a blocking call could not honour the deadline.
        if self._lock_path is None:
            return False
        if self._file is None:
            try:
                self._file = os.open(self._lock_path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
            except OSError:  # a folder we may not write in: SQLite's own locking still holds
                self._lock_path = None
                return False
        while True:
            try:
                fcntl.flock(self._file, fcntl.LOCK_EX | fcntl.LOCK_NB)
                return True
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    return False
                time.sleep(_FILE_LOCK_POLL_SECONDS)


class _Registry:
    """Gates by database file; its lock is replaced in a forked child like the gates' own."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.by_file: dict[str, SqliteWriteGate] = {}
        self.by_engine: weakref.WeakKeyDictionary[Engine, SqliteWriteGate] = weakref.WeakKeyDictionary()

    def after_fork_in_child(self) -> None:
        self.lock = threading.Lock()
        for gate in self.by_file.values():
            gate._reset()


_registry = _Registry()
os.register_at_fork(after_in_child=_registry.after_fork_in_child)


def gate_for(database: str, timeout_seconds: float) -> SqliteWriteGate:
    """The one gate of the file `database`, shared by every engine opened on it (an in-memory
    database is private to its engine, so it gets a thread lock of its own and no file)."""
    if database in ("", ":memory:"):
        return SqliteWriteGate(None, timeout_seconds)
    path = Path(database).resolve()
    with _registry.lock:
        return _registry.by_file.setdefault(
            str(path), SqliteWriteGate(path.with_name(path.name + ".write-gate"), timeout_seconds)
        )


def install_write_gate(engine: Engine, timeout_seconds: float) -> SqliteWriteGate:
    """Route `engine`'s writes through its file's gate; returns the gate."""
    gate = gate_for(engine.url.database or "", timeout_seconds)

    @event.listens_for(engine, "before_cursor_execute")
    def _before_write(connection: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if not statement.lstrip()[:7].upper().startswith(_READ_PREFIXES):
            gate.enter(connection.connection.dbapi_connection)

    def _hand_back(dbapi_connection: Any, *_args: Any) -> None:
        gate.leave(dbapi_connection)

    for moment in ("checkin", "reset", "invalidate", "soft_invalidate", "close", "close_detached"):
        event.listen(engine.pool, moment, _hand_back)
    _registry.by_engine[engine] = gate
    return gate


def hold_write_gate(connection: Any) -> None:
    """For writes sent straight to the driver (bulk executemany), which bypass the engine's
    statement events: take the gate first, as the engine would have."""
    gate = _registry.by_engine.get(connection.engine)
    if gate is not None:
        gate.enter(connection.connection.dbapi_connection)
