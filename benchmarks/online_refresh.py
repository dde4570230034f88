"""Online-store refresh: our bulk path beside Feast's `materialize`, into the same kind of store
(SQLite, and Redis when a server is given), from the same snapshot and registry.

Each side writes its own store; sampled contacts are then read back through Feast's
`get_online_features` from both and asserted equal before any time is reported.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from benchmarks.results import Figure
from benchmarks.synthetic import HISTORY_END, synthetic_export
from features.online_refresh import refresh_online_store
from features.schema import ENTITY_KEY
from features.settings import FeatureSettings
from features.snapshots import build_snapshots, snapshot_dates, write_snapshots
from features.store import apply_definitions, online_features, open_store

SERVICE = "churn_v1"
SAMPLED_CONTACTS = 500


def published_home(home: Path, snapshots: pl.DataFrame, redis_url: str | None) -> FeatureSettings:
    settings = FeatureSettings(home=home, redis_url=redis_url)
    write_snapshots(snapshots, settings.snapshot_path)
    apply_definitions(open_store(settings), settings)
    return settings


def _sample(contacts: int, seed: int = 11) -> list[int]:
    rng = np.random.default_rng(seed)
    return sorted({int(x) for x in rng.integers(1, contacts + 1, SAMPLED_CONTACTS)})


def _compare(ours: FeatureSettings, feasts: FeatureSettings, contacts: list[int]) -> None:
    mine = online_features(open_store(ours), SERVICE, contacts)
    theirs = online_features(open_store(feasts), SERVICE, contacts)
    assert mine.filter(pl.col(ENTITY_KEY).is_null()).is_empty()
    assert_frame_equal(mine, theirs, check_exact=True)


def redis_reachable(url: str) -> bool:
    import redis

    client = redis.Redis.from_url(url)
    try:
        return bool(client.ping())
    except redis.RedisError:
        print(f"Redis at {url} is unreachable: the online refresh is measured on SQLite only")
        return False
    finally:
        client.close()


def next_redis_database(url: str) -> str:
    """The Redis database after the one `url` names: Feast's side, beside ours."""
    base, _, database = url.rpartition("/")
    return f"{base}/{int(database or 0) + 1}"


def flush_redis(url: str) -> None:
    import redis

    client = redis.Redis.from_url(url)
    try:
        client.flushdb()
    finally:
        client.close()


def run(contacts: int, events: int, home: Path, redis_url: str | None = None) -> list[Figure]:
    dates = snapshot_dates(HISTORY_END, count=2, step_days=30)
    snapshots = build_snapshots(synthetic_export(contacts, events), dates)
    as_of = dates[-1]
    sampled = _sample(contacts)
    figures = []
    stores: list[tuple[str, str | None]] = [("sqlite", None)]
    if redis_url:
        stores.append(("redis", redis_url))
    for kind, url in stores:
        ours_home, feast_home = home / f"{kind}-ours", home / f"{kind}-feast"
        if url:
            feast_url = next_redis_database(url)
            flush_redis(url)
            flush_redis(feast_url)
        ours = published_home(ours_home, snapshots, url)
        feasts = published_home(feast_home, snapshots, feast_url if url else None)

        began = time.perf_counter()
        result = refresh_online_store(open_store(ours), ours.snapshot_path, as_of)
        ours_seconds = time.perf_counter() - began
        began = time.perf_counter()
        open_store(feasts).materialize(start_date=as_of - timedelta(hours=1), end_date=as_of + timedelta(seconds=1))
        feast_seconds = time.perf_counter() - began
        _compare(ours, feasts, sampled)
        if url:
            flush_redis(url)
            flush_redis(feast_url)
        figures.append(
            Figure(
                f"online_refresh_{kind}_vs_feast_materialize",
                result.contacts / ours_seconds,
                result.contacts / feast_seconds,
                "contacts/s",
                10,
                note=(
                    f"{result.contacts:,} contacts x 45 features into {kind}; {len(sampled)} sampled contacts "
                    "read back through Feast and asserted equal"
                ),
                extra={"ours_seconds": ours_seconds, "feast_seconds": feast_seconds},
            )
        )
    return figures


def run_absolute(contacts: int, events: int, home: Path, redis_url: str | None = None) -> list[Figure]:
    """Ours alone at full size against the 30 s goal (Feast's path would take many minutes)."""
    dates = snapshot_dates(HISTORY_END, count=1, step_days=30)
    snapshots = build_snapshots(synthetic_export(contacts, events), dates)
    figures = []
    for kind, url in [("sqlite", None), *([("redis", redis_url)] if redis_url else [])]:
        if url:
            flush_redis(url)
        settings = published_home(home / f"{kind}-absolute", snapshots, url)
        result = refresh_online_store(open_store(settings), settings.snapshot_path, dates[-1])
        if url:
            flush_redis(url)
        figures.append(
            Figure(
                f"online_refresh_{kind}_{contacts // 1000}k_contacts",
                result.seconds,
                None,
                "s",
                30,
                better="lower",
                target_is_ratio=False,
                note=f"{result.contacts:,} contacts x 45 features, ours alone",
            )
        )
    return figures
