"""Online-store refresh: our bulk path into our online store beside Feast's `materialize` into
Feast's, on the same kind of server (SQLite, and Redis when a server is given), from the same
snapshot and registry.

Sampled contacts are then read back from both (ours through our reader, Feast's through
`get_online_features`) and asserted equal before any time is reported.
"""

from __future__ import annotations

import time
from datetime import timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import numpy as np
import polars as pl
from polars.testing import assert_frame_equal

from benchmarks.feast_online import feast_online_features
from benchmarks.results import Figure
from benchmarks.synthetic import HISTORY_END, synthetic_export
from features.online.reader import open_online_reader
from features.online.refresh import refresh_online_store
from features.schema import EVENT_TIMESTAMP
from features.settings import FeatureSettings
from features.snapshots import build_snapshots, replace_parquet, snapshot_dates
from features.store import apply_definitions, open_store

if TYPE_CHECKING:
    from feast import FeatureStore

SERVICE = "churn_v1"
SAMPLED_CONTACTS = 500


def published_home(home: Path, snapshots: pl.DataFrame, redis_url: str | None) -> FeatureSettings:
    settings = FeatureSettings(home=home, redis_url=redis_url)
    replace_parquet(snapshots, settings.snapshot_path)
    apply_definitions(open_store(settings), settings)
    return settings


def _sample(contacts: int, seed: int = 11) -> list[int]:
    rng = np.random.default_rng(seed)
    return sorted({int(x) for x in rng.integers(1, contacts + 1, SAMPLED_CONTACTS)})


def feast_store_on(settings: FeatureSettings, redis_url: str | None) -> FeatureStore:
    """The home's Feast store set up as a Feast user would serve from it: the feature views
    applied online (the product keeps them offline-only) and Feast's online store on the Redis
    at `redis_url`, or its SQLite file under the home."""
    import copy

    from feast.infra.online_stores.sqlite import SqliteOnlineStoreConfig

    from features.feature_repo.contact_features import CONTACT_FEATURE_VIEWS

    online_config: object = SqliteOnlineStoreConfig(path=str(settings.feast_dir / "online.db"))
    if redis_url is not None:
        from feast.infra.online_stores.redis import RedisOnlineStoreConfig

        parsed = urlparse(redis_url)
        address = f"{parsed.hostname or '127.0.0.1'}:{parsed.port or 6379},db={parsed.path.strip('/') or '0'}"
        online_config = RedisOnlineStoreConfig(connection_string=address)
    store = open_store(settings, online_config)
    served: list[Any] = [copy.copy(view) for view in CONTACT_FEATURE_VIEWS]
    for view in served:
        view.online = True
    store.apply(served)
    return store


def _compare(ours: FeatureSettings, feasts: FeatureStore, contacts: list[int]) -> None:
    mine = open_online_reader(ours, open_store(ours)).read(SERVICE, contacts)
    theirs = feast_online_features(feasts, SERVICE, contacts)
    assert mine.filter(pl.col(EVENT_TIMESTAMP).is_null()).is_empty()
    assert_frame_equal(mine, theirs.select(mine.columns), check_exact=True, check_dtypes=False)


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
        feasts = feast_store_on(published_home(feast_home, snapshots, None), feast_url if url else None)

        began = time.perf_counter()
        result = refresh_online_store(ours, ours.snapshot_path, as_of)
        ours_seconds = time.perf_counter() - began
        began = time.perf_counter()
        feasts.materialize(start_date=as_of - timedelta(hours=1), end_date=as_of + timedelta(seconds=1))
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
                    f"{result.contacts:,} contacts x 45 features into {kind}, ours (one row or hash per contact) "
                    f"beside Feast's (one per contact and feature); {len(sampled)} sampled contacts read back "
                    "from both and asserted equal"
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
        result = refresh_online_store(settings, settings.snapshot_path, dates[-1])
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
