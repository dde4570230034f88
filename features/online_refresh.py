"""Load the newest snapshot into Feast's online store: fast, and resumable after a crash.

Feast's `materialize` writes row by row through protobuf objects and records its progress in
the registry apart from the data (a watermark that once advanced before the write succeeded
and silently skipped data, feast-dev/feast#3787). This path reads the snapshot with polars,
encodes every value a column at a time in Feast's own format (`features.online_format`), and
commits each chunk of contacts in one transaction together with the run's progress, in the
online store itself. A run killed at any point leaves whole chunks only and the next call goes
on after the last one committed; a run that finished is not repeated.

Contacts are written in the order of their serialized entity key, the order of the online
tables' primary key, so every chunk appends to the index instead of landing all over it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

import numpy as np
import polars as pl

from features.online_format import FeastOnlineFormat, OnlineFormatError
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.store import PROJECT

if TYPE_CHECKING:
    from feast import FeatureStore

KEY = "__entity_key"
CHUNK_CONTACTS = 20_000
ProgressCallback = Callable[[int, int], None]  # (contacts committed so far, contacts in all)


@dataclass(frozen=True)
class ViewColumns:
    """One feature view's online name and the features it holds, in Feast's order."""

    name: str
    table: str
    features: tuple[str, ...]


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


@dataclass(frozen=True)
class RunProgress:
    last_key: bytes | None
    contacts_committed: int
    finished: bool


class OnlineTarget(Protocol):
    """Where a refresh writes: one chunk of data and the run's progress in one transaction."""

    def progress(self, run: str) -> RunProgress: ...

    def write_chunk(self, run: str, chunk: pl.DataFrame, views: list[ViewColumns], as_of: datetime) -> None: ...

    def finish(self, run: str) -> None: ...

    def close(self) -> None: ...


def snapshot_run_id(rows: pl.DataFrame, as_of: datetime) -> str:
    """Names one refresh by what it loads: the snapshot date and a digest of its rows. A
    snapshot rebuilt with the same content (`build-features` run again after a crash) resumes
    the interrupted run; one whose values changed starts a new run."""
    row_hashes = np.sort(rows.hash_rows(seed=0).to_numpy())
    return f"{as_of.isoformat()}|{hashlib.sha256(row_hashes.tobytes()).hexdigest()[:20]}"


def online_views(store: FeatureStore) -> list[ViewColumns]:
    from feast.infra.online_stores.helpers import compute_table_id

    if store.config.registry.enable_online_feature_view_versioning:
        raise OnlineFormatError("versioned online feature views are not supported by the direct online read or refresh")
    return [
        ViewColumns(view.name, compute_table_id(PROJECT, view), tuple(feature.name for feature in view.features))
        for view in sorted(store.list_feature_views(), key=lambda view: view.name)
    ]


def latest_rows(snapshot_path: Path, as_of: datetime, layout: FeastOnlineFormat) -> pl.DataFrame:
    """The snapshot at `as_of`, keyed and ordered by the serialized entity key."""
    frame = pl.scan_parquet(snapshot_path).filter(pl.col(EVENT_TIMESTAMP) == as_of).collect()
    keys = pl.Series(KEY, layout.entity_keys(frame[ENTITY_KEY]), dtype=pl.Binary)
    return frame.with_columns(keys).sort(KEY)


def open_target(store: FeatureStore, layout: FeastOnlineFormat) -> OnlineTarget:
    from feast.infra.online_stores.redis import RedisOnlineStoreConfig
    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig

    online = store.config.online_store
    if isinstance(online, SqliteOnlineStoreConfig):
        from features.online_sqlite import SqliteOnlineTarget

        return SqliteOnlineTarget(Path(store.config.repo_path or ".") / online.path, layout)
    if isinstance(online, RedisOnlineStoreConfig):
        from features.online_redis import RedisOnlineTarget

        return RedisOnlineTarget(online.connection_string, layout)
    raise OnlineFormatError(f"no bulk refresh for the {type(online).__name__} online store")


def refresh_online_store(
    store: FeatureStore,
    snapshot_path: Path,
    as_of: datetime,
    *,
    chunk_contacts: int = CHUNK_CONTACTS,
    on_progress: ProgressCallback | None = None,
) -> RefreshResult:
    """Make the online store hold the snapshot at `as_of` for every contact in it."""
    began = time.perf_counter()
    layout = FeastOnlineFormat.probe(PROJECT, store.config.entity_key_serialization_version)
    views = online_views(store)
    if not views:
        raise OnlineFormatError("the Feast registry lists no feature views: run `crm-intel build-features` first")
    rows = latest_rows(snapshot_path, as_of, layout)
    run = snapshot_run_id(rows, as_of)
    target = open_target(store, layout)
    try:
        before = target.progress(run)
        if before.finished:
            return RefreshResult(as_of, rows.height, 0, rows.height, time.perf_counter() - began)
        remaining = rows if before.last_key is None else rows.filter(pl.col(KEY) > pl.lit(before.last_key))
        committed = rows.height - remaining.height
        for offset in range(0, remaining.height, chunk_contacts):
            chunk = remaining.slice(offset, chunk_contacts)
            target.write_chunk(run, chunk, views, as_of)
            committed += chunk.height
            if on_progress:
                on_progress(committed, rows.height)
        target.finish(run)
    finally:
        target.close()
    _record_in_registry(store, views, as_of)
    earlier = rows.height - remaining.height
    return RefreshResult(as_of, rows.height, remaining.height, earlier, time.perf_counter() - began)


def _record_in_registry(store: FeatureStore, views: list[ViewColumns], as_of: datetime) -> None:
    """Tell Feast's registry what is now online, only after every chunk committed, so `feast`
    tools and `materialize_incremental` see the same interval `materialize` would record."""
    from datetime import timedelta

    names = {view.name for view in views}
    for view in store.list_feature_views():
        if view.name in names:
            store.registry.apply_materialization(
                view, PROJECT, as_of - timedelta(hours=1), as_of + timedelta(seconds=1), commit=False
            )
    store.registry.commit()  # type: ignore[no-untyped-call]
