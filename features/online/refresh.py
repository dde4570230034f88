"""Load the newest snapshot into our online store: fast, and resumable after a crash.

The snapshot is read with polars and encoded a chunk at a time (`OnlineLayout.encode`, no
per-value Python); each chunk of contacts is committed in one transaction together with the
run's progress, in the online store itself. A run killed at any point leaves whole chunks only,
and the next call goes on after the last one committed; a run that finished is not repeated.
Contacts are written in id order, the stores' key order, so every chunk appends.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import numpy as np
import polars as pl

from features.online import open_online_store
from features.online.layout import OnlineLayout
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.settings import FeatureSettings

CHUNK_CONTACTS = 20_000
ProgressCallback = Callable[[int, int], None]  # (contacts committed so far, contacts in all)


@dataclass(frozen=True)
class RefreshResult:
    as_of: datetime
    contacts: int
    written_now: int
    committed_before: int  # by an earlier run of the same snapshot that was interrupted
    seconds: float

    @property
    def already_current(self) -> bool:
        return self.written_now == 0 and self.committed_before == self.contacts


def snapshot_run_id(rows: pl.DataFrame, as_of: datetime) -> str:
    """Names one refresh by what it loads: the snapshot date and a digest of its rows. A
    snapshot rebuilt with the same content (`build-features` run again after a crash) resumes
    the interrupted run; one whose values changed starts a new run."""
    row_hashes = np.sort(rows.hash_rows(seed=0).to_numpy())
    return f"{as_of.isoformat()}|{hashlib.sha256(row_hashes.tobytes()).hexdigest()[:20]}"


def latest_rows(snapshot_path: Path, as_of: datetime) -> pl.DataFrame:
    """The snapshot at `as_of`, in contact id order."""
    return pl.scan_parquet(snapshot_path).filter(pl.col(EVENT_TIMESTAMP) == as_of).sort(ENTITY_KEY).collect()


def refresh_online_store(
    settings: FeatureSettings,
    snapshot_path: Path,
    as_of: datetime,
    *,
    chunk_contacts: int = CHUNK_CONTACTS,
    on_progress: ProgressCallback | None = None,
) -> RefreshResult:
    """Make the online store hold the snapshot at `as_of` for every contact in it."""
    began = time.perf_counter()
    rows = latest_rows(snapshot_path, as_of)
    layout = OnlineLayout.of_schema(rows.schema)
    run = snapshot_run_id(rows, as_of)
    store = open_online_store(settings, layout)
    try:
        before = store.progress(run)
        if before.finished:
            return RefreshResult(as_of, rows.height, 0, rows.height, time.perf_counter() - began)
        last = before.last_contact
        remaining = rows if last is None else rows.filter(pl.col(ENTITY_KEY) > last)
        committed = rows.height - remaining.height
        for offset in range(0, remaining.height, chunk_contacts):
            chunk = remaining.slice(offset, chunk_contacts)
            store.write_chunk(run, chunk[ENTITY_KEY].to_list(), as_of, layout.encode(chunk))
            committed += chunk.height
            if on_progress:
                on_progress(committed, rows.height)
        store.finish(run)
    finally:
        store.close()
    earlier = rows.height - remaining.height
    return RefreshResult(as_of, rows.height, remaining.height, earlier, time.perf_counter() - began)
