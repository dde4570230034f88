"""The online store on the embedded default: one row per contact in a SQLite file of ours.

`(contact_id INTEGER PRIMARY KEY, as_of, features)`: the contact id is the table's row id, so a
refresh appends in key order and a read is one B-tree lookup per contact. The table is named
by the layout's version; a refresh's progress lives in the same file and is committed in each
chunk's transaction.
"""

from __future__ import annotations

import os
import sqlite3
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from features.online.store import RunProgress, StoredRow, from_micros, to_micros

PROGRESS_TABLE = "online_refresh_runs"
TABLE_PREFIX = "contact_features_"


class SqliteOnlineStore:
    def __init__(self, path: Path, version: str) -> None:
        self.path = path
        self.table = f"{TABLE_PREFIX}{version}"  # a hex digest: safe to quote into SQL
        # Serving reads on a thread pool: one read-only connection per thread, never shared.
        self._local = threading.local()
        self._writer: sqlite3.Connection | None = None

    # Writing (one refresh or purge at a time) ---------------------------------------------------

    def _write_connection(self) -> sqlite3.Connection:
        if self._writer is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # autocommit mode: transactions are opened and closed explicitly, one per chunk
            connection = sqlite3.connect(self.path, isolation_level=None, timeout=60)
            # WAL lets serving keep reading the previous values while a chunk is written
            connection.execute("PRAGMA journal_mode=WAL")
            connection.execute("PRAGMA synchronous=NORMAL")
            connection.execute(
                f'CREATE TABLE IF NOT EXISTS "{self.table}" '
                "(contact_id INTEGER PRIMARY KEY, as_of INTEGER NOT NULL, features BLOB NOT NULL)"
            )
            connection.execute(
                f"CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (run TEXT PRIMARY KEY, last_contact INTEGER, "
                "contacts_committed INTEGER NOT NULL, finished_at TEXT, updated_at TEXT NOT NULL)"
            )
            self._writer = connection
        return self._writer

    def progress(self, run: str) -> RunProgress:
        row = (
            self._write_connection()
            .execute(
                f"SELECT last_contact, contacts_committed, finished_at FROM {PROGRESS_TABLE} WHERE run = ?", (run,)
            )
            .fetchone()
        )
        return RunProgress(None, 0, False) if row is None else RunProgress(row[0], row[1], row[2] is not None)

    def write_chunk(self, run: str, contact_ids: Sequence[int], as_of: datetime, blobs: Sequence[bytes]) -> None:
        stamp = to_micros(as_of)
        connection = self._write_connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            self._replace_rows(connection, contact_ids, stamp, blobs)
            connection.execute(
                f"INSERT INTO {PROGRESS_TABLE} (run, last_contact, contacts_committed, updated_at) "
                "VALUES (?, ?, ?, ?) ON CONFLICT(run) DO UPDATE SET last_contact = excluded.last_contact, "
                "contacts_committed = contacts_committed + excluded.contacts_committed, "
                "updated_at = excluded.updated_at",
                (run, contact_ids[-1], len(contact_ids), _now()),
            )
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def _replace_rows(
        self, connection: sqlite3.Connection, contact_ids: Sequence[int], stamp: int, blobs: Sequence[bytes]
    ) -> None:
        connection.executemany(
            f'INSERT OR REPLACE INTO "{self.table}" (contact_id, as_of, features) VALUES (?, ?, ?)',
            zip(contact_ids, [stamp] * len(contact_ids), blobs, strict=True),
        )

    def put(self, contact_ids: Sequence[int], as_of: datetime, blobs: Sequence[bytes]) -> None:
        """A few contacts' rows replaced in one transaction, outside any refresh run."""
        stamp = to_micros(as_of)
        connection = self._write_connection()
        connection.execute("BEGIN IMMEDIATE")
        try:
            self._replace_rows(connection, contact_ids, stamp, blobs)
            connection.execute("COMMIT")
        except BaseException:
            connection.execute("ROLLBACK")
            raise

    def finish(self, run: str) -> None:
        """Mark the run done, forget older runs, and drop tables of earlier layouts."""
        connection = self._write_connection()
        updated = connection.execute(
            f"UPDATE {PROGRESS_TABLE} SET finished_at = ?, updated_at = ? WHERE run = ?", (_now(), _now(), run)
        )
        if updated.rowcount == 0:  # an empty snapshot: nothing written, still a finished run
            connection.execute(
                f"INSERT INTO {PROGRESS_TABLE} (run, contacts_committed, finished_at, updated_at) VALUES (?, 0, ?, ?)",
                (run, _now(), _now()),
            )
        connection.execute(f"DELETE FROM {PROGRESS_TABLE} WHERE run <> ? AND finished_at IS NOT NULL", (run,))
        for (table,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall():
            if table.startswith(TABLE_PREFIX) and table != self.table:
                connection.execute(f'DROP TABLE "{table}"')

    def delete(self, contact_ids: Sequence[int]) -> int:
        """The contacts' rows in every layout's table (a refresh to a new layout that has not
        finished leaves the old table beside it): an erased person leaves none behind."""
        if not contact_ids or not self.path.exists():
            return 0
        connection = self._write_connection()
        tables = [
            name
            for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
            if name.startswith(TABLE_PREFIX)
        ]
        removed = 0
        for table in tables:
            cursor = connection.executemany(
                f'DELETE FROM "{table}" WHERE contact_id = ?', [(contact_id,) for contact_id in contact_ids]
            )
            removed += cursor.rowcount
        return removed

    # Reading (serving threads) ------------------------------------------------------------------

    def _read_connection(self) -> sqlite3.Connection | None:
        """This thread's read-only connection; None while the store has no file yet. A file
        replaced underneath (a restore) is noticed by its inode and opened afresh."""
        try:
            identity = os.stat(self.path).st_ino
        except FileNotFoundError:
            return None
        held: tuple[int, sqlite3.Connection] | None = getattr(self._local, "held", None)
        if held is not None and held[0] == identity:
            return held[1]
        if held is not None:
            held[1].close()
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        self._local.held = (identity, connection)
        return connection

    def read(self, contact_ids: Sequence[int]) -> dict[int, StoredRow]:
        connection = self._read_connection()
        if connection is None or not contact_ids:
            return {}  # nothing built yet: every contact is "not ready"
        marks = ",".join("?" * len(contact_ids))
        try:
            rows = connection.execute(
                f'SELECT contact_id, as_of, features FROM "{self.table}" WHERE contact_id IN ({marks})',
                list(contact_ids),
            ).fetchall()
        except sqlite3.OperationalError as error:
            if "no such table" in str(error):
                return {}  # never refreshed in this layout
            raise
        return {contact_id: StoredRow(from_micros(as_of), bytes(blob)) for contact_id, as_of, blob in rows}

    def ping(self) -> None:
        """Read the schema and one row through a fresh connection: a file that is not a database,
        or whose pages are damaged where the table starts, fails here (a held connection could
        answer from pages it cached before the damage)."""
        if not self.path.exists():
            return  # nothing built yet: a state, not a fault (contacts answer "not ready")
        connection = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, isolation_level=None)
        try:
            tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
            if self.table in tables:
                connection.execute(f'SELECT * FROM "{self.table}" LIMIT 1').fetchall()
        finally:
            connection.close()

    def errors(self) -> tuple[type[Exception], ...]:
        return (sqlite3.DatabaseError,)

    def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            self._writer = None


def _now() -> str:
    return datetime.now(UTC).isoformat()
