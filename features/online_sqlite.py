"""The bulk refresh's writer for Feast's SQLite online store (the embedded default).

Rows go into Feast's own tables in Feast's own layout (one row per contact and feature, upserted
on the primary key Feast declares), so `get_online_features` reads them unchanged. The run's
progress lives in a table of ours in the same file and is updated in the chunk's transaction.
"""

from __future__ import annotations

import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import polars as pl

from features.online_format import FeastOnlineFormat, sqlite_timestamp, value_texts
from features.online_refresh import KEY, RunProgress, ViewColumns

PROGRESS_TABLE = "crm_intel_online_refresh"


class SqliteOnlineTarget:
    def __init__(self, path: Path, layout: FeastOnlineFormat) -> None:
        self.layout = layout
        # autocommit mode: transactions are opened and closed explicitly, one per chunk
        self.connection = sqlite3.connect(path, isolation_level=None, timeout=60)
        # WAL lets a serving process keep reading the previous values while a chunk is written
        self.connection.execute("PRAGMA journal_mode=WAL")
        self.connection.execute("PRAGMA synchronous=NORMAL")
        self.connection.execute("PRAGMA cache_size=-262144")  # 256 MiB: the index stays in memory
        self.connection.execute(
            f"CREATE TABLE IF NOT EXISTS {PROGRESS_TABLE} (run TEXT PRIMARY KEY, last_key BLOB, "
            "contacts_committed INTEGER NOT NULL, finished_at TEXT, updated_at TEXT NOT NULL)"
        )

    def progress(self, run: str) -> RunProgress:
        row = self.connection.execute(
            f"SELECT last_key, contacts_committed, finished_at FROM {PROGRESS_TABLE} WHERE run = ?", (run,)
        ).fetchone()
        if row is None:
            return RunProgress(None, 0, False)
        return RunProgress(row[0], row[1], row[2] is not None)

    def write_chunk(self, run: str, chunk: pl.DataFrame, views: list[ViewColumns], as_of: datetime) -> None:
        statements = [(_upsert(view.table, as_of), _feature_rows(chunk, view, self.layout)) for view in views]
        self.connection.execute("BEGIN IMMEDIATE")
        try:
            for view in views:
                # Feast declares an index on entity_key beside its primary key (entity_key,
                # feature_name), whose prefix already answers every read Feast makes; keeping
                # both costs a third B-tree per row written. `feast apply` puts it back.
                self.connection.execute(f'DROP INDEX IF EXISTS "{view.table}_ek"')
            for statement, rows in statements:
                self.connection.executemany(statement, rows.iter_rows())
            self.connection.execute(
                f"INSERT INTO {PROGRESS_TABLE} (run, last_key, contacts_committed, updated_at) VALUES (?, ?, ?, ?) "
                "ON CONFLICT(run) DO UPDATE SET last_key = excluded.last_key, "
                "contacts_committed = contacts_committed + excluded.contacts_committed, "
                "updated_at = excluded.updated_at",
                (run, chunk[KEY][-1], chunk.height, _now()),
            )
            self.connection.execute("COMMIT")
        except BaseException:
            self.connection.execute("ROLLBACK")
            raise

    def finish(self, run: str) -> None:
        with_progress = self.connection.execute(
            f"UPDATE {PROGRESS_TABLE} SET finished_at = ?, updated_at = ? WHERE run = ?", (_now(), _now(), run)
        )
        if with_progress.rowcount == 0:  # an empty snapshot: nothing written, still a finished run
            self.connection.execute(
                f"INSERT INTO {PROGRESS_TABLE} (run, contacts_committed, finished_at, updated_at) VALUES (?, 0, ?, ?)",
                (run, _now(), _now()),
            )
        # finished runs of older snapshots tell nothing more than the newest one
        self.connection.execute(f"DELETE FROM {PROGRESS_TABLE} WHERE run <> ? AND finished_at IS NOT NULL", (run,))

    def close(self) -> None:
        self.connection.close()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _upsert(table: str, as_of: datetime) -> str:
    # The event time is the snapshot's, the same for every row: an integer literal computed
    # here, not user input. The columns are those Feast's own writer fills.
    event_ts = sqlite_timestamp(as_of)
    return (
        f'INSERT INTO "{table}" (entity_key, feature_name, value, value_text, event_ts, created_ts) '
        f"VALUES (?, ?, ?, ?, {event_ts:d}, NULL) "
        "ON CONFLICT(entity_key, feature_name) DO UPDATE SET value = excluded.value, "
        "value_text = excluded.value_text, event_ts = excluded.event_ts, created_ts = excluded.created_ts"
    )


def _feature_rows(chunk: pl.DataFrame, view: ViewColumns, layout: FeastOnlineFormat) -> pl.DataFrame:
    """The view's rows in primary-key order: (entity_key, feature_name, value, value_text)."""
    keys = chunk[KEY]
    parts = [
        pl.DataFrame(
            {
                "entity_key": keys,
                "feature_name": pl.repeat(feature, chunk.height, eager=True, dtype=pl.String),
                "value": pl.Series(layout.values(chunk[feature]), dtype=pl.Binary),
                "value_text": value_texts(chunk[feature]),
            }
        )
        for feature in view.features
    ]
    return pl.concat(parts).sort("entity_key", "feature_name")
