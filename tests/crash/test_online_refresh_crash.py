"""SIGKILL the online refresh at random moments, 25 times per store, resume after each, and find
whole chunks only (every contact holds one snapshot's row, byte for byte), progress that agrees
with what is online, and at the end an online store equal to the offline latest snapshot.

Each run is a child forked from a fork server that imported the refresh once (a run starts in
milliseconds instead of the seconds a fresh interpreter's imports cost, and, unlike a fork of
this process, without polars' thread pool half-copied into it); SIGKILL gives it no chance to
clean up, exactly like the OOM killer.
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
from features.online import open_online_store
from features.online.layout import OnlineLayout
from features.online.reader import open_online_reader
from features.online.refresh import latest_rows, refresh_online_store, snapshot_run_id
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.settings import FeatureSettings
from features.snapshots import build_snapshots, snapshot_dates
from features.store import open_store

pytestmark = pytest.mark.slow

CONTACTS = 6_000
CHUNK = 300
KILLS = 25
SEED = 20261202
DATES = snapshot_dates(HISTORY_END, count=2, step_days=30)
# what a refresh imports, loaded once in the fork server rather than in every child
PRELOADED = ["features.online.refresh", "features.online.sqlite_store", "features.online.redis_store", "redis"]


def _run_refresh(settings: FeatureSettings, as_of: datetime, started: Event | None = None) -> None:
    if started is not None:
        started.set()  # the kill clock starts here, not while the child is still being set up
    refresh_online_store(settings, settings.snapshot_path, as_of, chunk_contacts=CHUNK)


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


def _online_at(settings: FeatureSettings, rows: dict[datetime, dict[int, bytes]], as_of: datetime) -> list[int]:
    """Contacts whose stored row is the snapshot at `as_of`, in id order; fails if any stored
    row is neither snapshot's row for that contact, byte for byte (a torn or mixed write)."""
    store = open_online_store(settings)
    try:
        stored = store.read(list(range(1, CONTACTS + 1)))
    finally:
        store.close()
    torn = [
        contact_id
        for contact_id, row in stored.items()
        if row.as_of not in rows or rows[row.as_of].get(contact_id) != row.features
    ]
    assert not torn, f"{len(torn)} contacts hold a row that is no snapshot's"
    return sorted(contact_id for contact_id, row in stored.items() if row.as_of == as_of)


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
    layout = OnlineLayout.of_schema()
    # Runs alternate between the two snapshots, so each finished run is followed by one that
    # changes every contact again.
    latest = {as_of: latest_rows(settings.snapshot_path, as_of) for as_of in DATES}
    orders = {as_of: rows[ENTITY_KEY].to_list() for as_of, rows in latest.items()}
    blobs = {
        as_of: dict(zip(rows[ENTITY_KEY].to_list(), layout.encode(rows), strict=True)) for as_of, rows in latest.items()
    }
    fork = multiprocessing.get_context("forkserver")
    fork.set_forkserver_preload([__name__, *PRELOADED])
    # Three clean runs first (to DATES[1], DATES[0], DATES[1]: each rewrites every contact); the
    # kill moments are drawn inside the slowest. The window then follows the machine: widened
    # after a streak of kills with no run finishing, narrowed after a streak of runs finishing,
    # so a busier (or quieter) machine later still sees both.
    clean = max(_timed_clean_run(fork, settings, as_of) for as_of in (DATES[1], DATES[0], DATES[1]))
    assert _online_at(settings, blobs, DATES[1]) == orders[DATES[1]]
    as_of, finished_runs, mid_run, window, streak = DATES[0], 0, 0, clean, 0
    rng = random.Random(SEED)
    for _ in range(KILLS * 8):
        if mid_run >= KILLS and finished_runs >= 2:
            break
        started = fork.Event()
        child = fork.Process(target=_run_refresh, args=(settings, as_of, started))
        child.start()
        assert started.wait(60), "the refresh process did not start"
        time.sleep(rng.uniform(0.0, window))
        if child.is_alive():
            # The forkserver, not this process, reaps the child: one that ends just now is gone
            # before the signal, which Process.kill allows; its exit code says what happened.
            child.kill()
        child.join()
        assert child.exitcode in (0, -signal.SIGKILL)
        killed = child.exitcode == -signal.SIGKILL
        mid_run += killed
        step = 1 if killed else -1  # streak: kills in a row (> 0) or finished runs in a row (< 0)
        streak = streak + step if streak * step > 0 else step
        if streak >= 5:
            window, streak = window * 1.25, 0
        elif streak <= -5:
            window, streak = window * 0.8, 0
        target = open_online_store(settings, layout)
        try:
            progress = target.progress(snapshot_run_id(latest[as_of], as_of))
        finally:
            target.close()
        committed, order = progress.contacts_committed, orders[as_of]
        assert committed % CHUNK == 0 or committed == len(order), f"a partial chunk: {committed} contacts"
        assert _online_at(settings, blobs, as_of) == order[:committed], "online holds exactly the committed chunks"
        assert progress.last_contact == (order[committed - 1] if committed else None)
        if progress.finished:
            finished_runs += 1
            as_of = DATES[0] if as_of == DATES[1] else DATES[1]
    _run_refresh(settings, as_of)
    assert _online_at(settings, blobs, as_of) == orders[as_of]
    snapshot = snapshots.filter(pl.col(EVENT_TIMESTAMP) == as_of).sort(ENTITY_KEY)
    sample = snapshot.sample(500, seed=3).sort(ENTITY_KEY)
    served = open_online_reader(settings, open_store(settings)).read("churn_v1", sample[ENTITY_KEY].to_list())
    assert served.equals(sample.select(served.columns)), "online values equal the offline snapshot"
    print(
        f"\n{kind}: {mid_run} kills, the first within a clean run's {clean:.2f} s, the last within {window:.2f} s; "
        f"{finished_runs} runs finished between kills"
    )
    assert mid_run >= KILLS
    assert finished_runs >= 2, "runs must also finish between kills, so resumption is what got them there"
