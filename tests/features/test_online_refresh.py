"""The bulk online refresh into our online store, on SQLite and Redis: what the reader gives
back is exactly the latest snapshot (and what Feast's own materialize and read give), and an
interrupted refresh goes on after its last committed chunk."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks.feast_online import feast_online_features
from benchmarks.online_refresh import feast_store_on, flush_redis, next_redis_database, published_home
from benchmarks.synthetic import HISTORY_END, synthetic_export
from features.online import open_online_store
from features.online.reader import open_online_reader
from features.online.refresh import refresh_online_store
from features.online.store import OnlineStoreWriteError
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.settings import FeatureSettings
from features.snapshots import build_snapshots, replace_parquet, snapshot_dates
from features.store import open_store

pytestmark = pytest.mark.slow

CONTACTS = 3_000
SERVICE = "churn_v1"
DATES = snapshot_dates(HISTORY_END, count=2, step_days=30)


@pytest.fixture(scope="module")
def snapshots() -> pl.DataFrame:
    return build_snapshots(synthetic_export(CONTACTS, CONTACTS * 40), DATES)


def _served(settings: FeatureSettings, contact_ids: list[int]) -> pl.DataFrame:
    return open_online_reader(settings, open_store(settings)).read(SERVICE, contact_ids)


def _every_feature(settings: FeatureSettings, contact_ids: list[int]) -> pl.DataFrame:
    """All the layout's features, through the store's own read (not one service's)."""
    from features.online.layout import OnlineLayout

    layout = OnlineLayout.of_schema()
    store = open_online_store(settings, layout)
    try:
        found = store.read(contact_ids)
    finally:
        store.close()
    ids = [contact_id for contact_id in contact_ids if contact_id in found]
    features = layout.frame([found[contact_id].features for contact_id in ids], layout.features)
    keys = pl.DataFrame(
        [
            pl.Series(ENTITY_KEY, ids, pl.Int64),
            pl.Series(EVENT_TIMESTAMP, [found[contact_id].as_of for contact_id in ids], pl.Datetime("us")),
        ]
    )
    return pl.concat([keys, features], how="horizontal")


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_the_online_store_holds_exactly_the_latest_snapshot_and_agrees_with_feasts_materialize(
    kind: str, snapshots: pl.DataFrame, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ours_url = feast_url = None
    if kind == "redis":
        ours_url = str(request.getfixturevalue("redis_url"))
        feast_url = next_redis_database(ours_url)
        flush_redis(feast_url)
    ours = published_home(tmp_path / "ours", snapshots, ours_url)
    feasts = feast_store_on(published_home(tmp_path / "feast", snapshots, None), feast_url)
    try:
        result = refresh_online_store(ours, ours.snapshot_path, DATES[-1], chunk_contacts=700)
        feasts.materialize(DATES[-1] - timedelta(hours=1), DATES[-1] + timedelta(seconds=1))
        everyone = list(range(1, CONTACTS + 2))  # one id past the last: unknown to both
        mine, theirs = _served(ours, everyone), feast_online_features(feasts, SERVICE, everyone)
    finally:
        if feast_url:
            flush_redis(feast_url)
    assert result.contacts == CONTACTS and result.written_now == CONTACTS
    assert_frame_equal(mine, theirs.select(mine.columns), check_exact=True, check_dtypes=False)
    latest = snapshots.filter(pl.col(EVENT_TIMESTAMP) == DATES[-1]).sort(ENTITY_KEY)
    stored = _every_feature(ours, latest[ENTITY_KEY].to_list())
    assert_frame_equal(stored, latest.select(stored.columns), check_exact=True)  # every feature, typed as offline
    assert mine.row(CONTACTS, named=True)[EVENT_TIMESTAMP] is None


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_an_interrupted_refresh_goes_on_after_its_last_committed_chunk_and_a_finished_one_is_not_repeated(
    kind: str, snapshots: pl.DataFrame, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("redis_url")) if kind == "redis" else None
    settings = published_home(tmp_path / "home", snapshots.filter(pl.col(EVENT_TIMESTAMP) == DATES[0]), url)
    refresh_online_store(settings, settings.snapshot_path, DATES[0])
    replace_parquet(snapshots, settings.snapshot_path)  # a newer snapshot arrives

    class RefreshStoppedError(Exception):
        pass

    def stop_after_two_chunks(committed: int, total: int) -> None:
        if committed >= 1_000:
            raise RefreshStoppedError

    with pytest.raises(RefreshStoppedError):
        refresh_online_store(
            settings, settings.snapshot_path, DATES[1], chunk_contacts=500, on_progress=stop_after_two_chunks
        )
    halfway = _served(settings, list(range(1, CONTACTS + 1)))
    refreshed = halfway.filter(pl.col(EVENT_TIMESTAMP) == DATES[1])
    assert refreshed.height == 1_000, "two whole chunks are online, nothing of the third"
    older = halfway.filter((pl.col(EVENT_TIMESTAMP) == DATES[0]) | pl.col(EVENT_TIMESTAMP).is_null())
    assert older.height == CONTACTS - 1_000, "the rest still hold the older snapshot (or nothing yet)"

    resumed = refresh_online_store(settings, settings.snapshot_path, DATES[1], chunk_contacts=500)
    assert (resumed.committed_before, resumed.written_now) == (1_000, CONTACTS - 1_000)
    latest = snapshots.filter(pl.col(EVENT_TIMESTAMP) == DATES[1]).sort(ENTITY_KEY)
    served = _served(settings, latest[ENTITY_KEY].to_list())
    assert_frame_equal(served, latest.select(served.columns), check_exact=True)

    again = refresh_online_store(settings, settings.snapshot_path, DATES[1])
    assert again.already_current and again.written_now == 0
    replace_parquet(snapshots, settings.snapshot_path)  # rebuilt, same content: nothing to do
    assert refresh_online_store(settings, settings.snapshot_path, DATES[1]).already_current
    changed = snapshots.with_columns(
        pl.when(pl.col(ENTITY_KEY) == 1).then(pl.col("open_deals_count") + 1).otherwise("open_deals_count")
    )
    replace_parquet(changed, settings.snapshot_path)  # one value changed: a new run writes everyone
    rebuilt = refresh_online_store(settings, settings.snapshot_path, DATES[1])
    assert rebuilt.written_now == CONTACTS
    expected = changed.filter((pl.col(ENTITY_KEY) == 1) & (pl.col(EVENT_TIMESTAMP) == DATES[1]))["open_deals_count"]
    assert _every_feature(settings, [1])["open_deals_count"][0] == expected[0]


@pytest.mark.redis
def test_a_row_redis_refuses_fails_the_refresh_and_the_next_run_starts_over(
    snapshots: pl.DataFrame, redis_url: str, tmp_path: Path
) -> None:
    """Redis applies the rest of a MULTI/EXEC when one command fails (it has no rollback): the
    refresh then says which write failed and forgets its progress, so the next run rewrites
    every contact instead of trusting chunks that may hold a hole."""
    import redis

    settings = published_home(tmp_path / "home", snapshots, redis_url)
    store = open_online_store(settings)
    squatter = store.key(1500)  # type: ignore[attr-defined]
    store.close()
    client = redis.Redis.from_url(redis_url)
    client.set(squatter, "not a hash")
    try:
        with pytest.raises(OnlineStoreWriteError, match="WRONGTYPE"):
            refresh_online_store(settings, settings.snapshot_path, DATES[1], chunk_contacts=1_000)
        client.delete(squatter)
        after = refresh_online_store(settings, settings.snapshot_path, DATES[1], chunk_contacts=1_000)
    finally:
        client.close()
    assert (after.committed_before, after.written_now) == (0, after.contacts)
    assert _every_feature(settings, [1500])[EVENT_TIMESTAMP][0] == DATES[1]


def test_a_refresh_to_a_changed_feature_list_drops_the_earlier_layouts_rows(
    snapshots: pl.DataFrame, tmp_path: Path
) -> None:
    import sqlite3

    settings = published_home(tmp_path / "home", snapshots, None)
    settings.online_path.parent.mkdir(parents=True)
    with sqlite3.connect(settings.online_path) as earlier:
        earlier.execute("CREATE TABLE contact_features_0123456789ab (contact_id INTEGER PRIMARY KEY)")
    refresh_online_store(settings, settings.snapshot_path, DATES[1])
    with sqlite3.connect(settings.online_path) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
    assert "contact_features_0123456789ab" not in tables
    assert len([name for name in tables if name.startswith("contact_features_")]) == 1


class _RefreshKilledError(Exception):
    """Raised from the progress callback: the refresh process dies after its first chunk."""


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_an_erasure_during_a_layout_change_removes_the_person_from_every_layout(
    kind: str, snapshots: pl.DataFrame, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    """A build that adds a custom input writes a new layout beside the old one until it finishes:
    a person erased meanwhile is gone from both."""
    from features.erasure import purge_online
    from features.online.layout import OnlineLayout

    url = str(request.getfixturevalue("redis_url")) if kind == "redis" else None
    settings = published_home(tmp_path / "home", snapshots, url)
    refresh_online_store(settings, settings.snapshot_path, DATES[1])
    widened = snapshots.with_columns(pl.lit(1.0).alias("custom__tier__is__gold"))
    replace_parquet(widened, settings.snapshot_path)

    def die(_done: int, _total: int) -> None:
        raise _RefreshKilledError

    with pytest.raises(_RefreshKilledError):
        refresh_online_store(settings, settings.snapshot_path, DATES[1], chunk_contacts=500, on_progress=die)
    old = open_online_store(settings, OnlineLayout.of_schema())
    new = open_online_store(settings, OnlineLayout.of_schema(widened.schema))
    try:
        assert 1 in old.read([1]) and 1 in new.read([1]), "both layouts hold the first contact"
        assert purge_online(settings, [1]) == 2
        assert not old.read([1]) and not new.read([1])
        assert 2 in old.read([2]) and 2 in new.read([2]), "no one else is touched"
    finally:
        old.close()
        new.close()
