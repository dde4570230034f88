"""SIGKILL the online refresh at random moments, 25 times per store, resume after each, and find
whole chunks only, progress that agrees with what is online, and at the end an online store
equal to the offline latest snapshot.

Each run is a child forked from a fork server that imported Feast once (a run starts in
milliseconds instead of the seconds `import feast` costs a fresh interpreter, and, unlike a
fork of this process, without polars' thread pool half-copied into it); SIGKILL gives it no
chance to clean up, exactly like the OOM killer.
"""

from __future__ import annotations

import multiprocessing
import random
import signal
import time
from datetime import datetime
from multiprocessing.synchronize import Event
from pathlib import Path

import polars as pl
import pytest

from benchmarks.online_refresh import published_home
from benchmarks.synthetic import HISTORY_END, synthetic_export
from features.online_format import FeastOnlineFormat, sqlite_timestamp
from features.online_refresh import (
    KEY,
    ViewColumns,
    latest_rows,
    online_views,
    open_target,
    refresh_online_store,
    snapshot_run_id,
)
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.settings import FeatureSettings
from features.snapshots import build_snapshots, snapshot_dates
from features.store import PROJECT, online_features, open_store

pytestmark = pytest.mark.slow

CONTACTS = 6_000
CHUNK = 300
KILLS = 25
SEED = 20261202
DATES = snapshot_dates(HISTORY_END, count=2, step_days=30)
# what a refresh imports, loaded once in the fork server rather than in every child
PRELOADED = [
    "feast.infra.offline_stores.duckdb",
    "feast.infra.online_stores.sqlite",
    "feast.infra.online_stores.redis",
    "features.online_sqlite",
    "features.online_redis",
]


def _run_refresh(settings: FeatureSettings, as_of: datetime, started: Event | None = None) -> None:
    store = open_store(settings)
    if started is not None:
        started.set()  # the kill clock starts here, not while the child is still being set up
    refresh_online_store(store, settings.snapshot_path, as_of, chunk_contacts=CHUNK)


def _timed_clean_run(
    fork: multiprocessing.context.ForkServerContext, settings: FeatureSettings, as_of: datetime
) -> float:
    """Seconds one uninterrupted refresh takes, from its start signal to its exit."""
    started = fork.Event()
    child = fork.Process(target=_run_refresh, args=(settings, as_of, started))
    child.start()
    assert started.wait(60), "the refresh process did not start"
    began = time.perf_counter()
    child.join()
    assert child.exitcode == 0
    return time.perf_counter() - began


def _online_at(settings: FeatureSettings, views: list[ViewColumns], as_of: datetime) -> list[bytes]:
    """Serialized keys of contacts whose every feature view holds the snapshot at `as_of`;
    fails if a contact holds it in some views and not in others (a torn chunk)."""
    if settings.redis_url:
        import redis

        from features.online_format import redis_timestamp

        client = redis.Redis.from_url(settings.redis_url)
        layout = FeastOnlineFormat.probe(PROJECT, 3)
        keys = layout.redis_keys(pl.Series(range(1, CONTACTS + 1))).to_pylist()
        stamp = redis_timestamp(as_of)
        pipe = client.pipeline()
        for key in keys:
            pipe.hmget(key, [f"_ts:{view.name}" for view in views])
        answers = pipe.execute()
        client.close()
        per_view = {
            key[: -len(PROJECT)]: [value == stamp for value in answer]
            for key, answer in zip(keys, answers, strict=True)
        }
    else:
        import sqlite3

        connection = sqlite3.connect(settings.feast_dir / "online.db")
        per_view = {}
        for index, view in enumerate(views):
            rows = connection.execute(
                f'SELECT entity_key, COUNT(*) FROM "{view.table}" WHERE event_ts = ? GROUP BY entity_key',
                (sqlite_timestamp(as_of),),
            ).fetchall()
            for key, features in rows:
                assert features == len(view.features), "a view half written for one contact"
                per_view.setdefault(key, [False] * len(views))[index] = True
        connection.close()
    torn = [key for key, views_done in per_view.items() if any(views_done) and not all(views_done)]
    assert not torn, f"{len(torn)} contacts hold the new snapshot in some views only"
    return sorted(key for key, views_done in per_view.items() if all(views_done))


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_sigkilled_refresh_resumes_with_whole_chunks_and_ends_equal_to_the_offline_snapshot(
    kind: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("redis_url")) if kind == "redis" else None
    snapshots = build_snapshots(synthetic_export(CONTACTS, CONTACTS * 20), DATES)
    # only contacts present at both dates, so a run to either one changes every contact
    both = snapshots.group_by(ENTITY_KEY).len().filter(pl.col("len") == len(DATES))[ENTITY_KEY]
    snapshots = snapshots.filter(pl.col(ENTITY_KEY).is_in(both.implode()))
    settings = published_home(tmp_path / "home", snapshots, url)
    store = open_store(settings)
    layout = FeastOnlineFormat.probe(PROJECT, store.config.entity_key_serialization_version)
    # Runs alternate between the two snapshots, so each finished run is followed by one that
    # changes every contact again.
    views = online_views(store)
    latest = {as_of: latest_rows(settings.snapshot_path, as_of, layout) for as_of in DATES}
    orders = {as_of: rows[KEY].to_list() for as_of, rows in latest.items()}
    fork = multiprocessing.get_context("forkserver")
    fork.set_forkserver_preload([__name__, *PRELOADED])
    # One clean run (to DATES[1]) first: the kill moments are drawn inside its duration.
    clean = _timed_clean_run(fork, settings, DATES[1])
    assert _online_at(settings, views, DATES[1]) == orders[DATES[1]]
    as_of, finished_runs, mid_run = DATES[0], 0, 0
    rng = random.Random(SEED)
    for _ in range(KILLS * 4):
        if mid_run == KILLS:
            break
        started = fork.Event()
        child = fork.Process(target=_run_refresh, args=(settings, as_of, started))
        child.start()
        assert started.wait(60), "the refresh process did not start"
        time.sleep(rng.uniform(0.0, clean))
        if child.is_alive():
            # The forkserver, not this process, reaps the child: one that ends just now is gone
            # before the signal, which Process.kill allows; its exit code says what happened.
            child.kill()
        child.join()
        assert child.exitcode in (0, -signal.SIGKILL)
        mid_run += child.exitcode == -signal.SIGKILL
        target = open_target(store, layout)
        try:
            progress = target.progress(snapshot_run_id(latest[as_of], as_of))
        finally:
            target.close()
        committed, order = progress.contacts_committed, orders[as_of]
        assert committed % CHUNK == 0 or committed == len(order), f"a partial chunk: {committed} contacts"
        assert _online_at(settings, views, as_of) == order[:committed], "online holds exactly the committed chunks"
        assert progress.last_key == (order[committed - 1] if committed else None)
        if progress.finished:
            finished_runs += 1
            as_of = DATES[0] if as_of == DATES[1] else DATES[1]
    _run_refresh(settings, as_of)
    assert _online_at(settings, views, as_of) == orders[as_of]
    snapshot = snapshots.filter(pl.col(EVENT_TIMESTAMP) == as_of).sort(ENTITY_KEY)
    sample = snapshot.sample(500, seed=3).sort(ENTITY_KEY)
    served = online_features(open_store(settings), "churn_v1", sample[ENTITY_KEY].to_list())
    assert served.select(sample.columns).equals(sample), "online values equal the offline snapshot"
    print(f"\n{kind}: {mid_run} kills within a clean run's {clean:.2f} s, {finished_runs} runs finished between kills")
    assert mid_run == KILLS
    assert finished_runs >= 2, "runs must also finish between kills, so resumption is what got them there"
