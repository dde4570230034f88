"""The bulk online refresh: what Feast reads back is exactly what its own `materialize` writes,
on SQLite and Redis, and an interrupted refresh goes on after its last committed chunk."""

from __future__ import annotations

import struct
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest

from benchmarks.online_refresh import flush_redis, next_redis_database, published_home
from benchmarks.synthetic import HISTORY_END, synthetic_export
from features.online_format import FeastOnlineFormat, value_texts
from features.online_refresh import online_views, refresh_online_store
from features.resp_bulk import RedisBulkConnection, RedisBulkError, encode_command
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.settings import FeatureSettings
from features.snapshots import build_snapshots, snapshot_dates, write_snapshots
from features.store import PROJECT, online_features, open_store

pytestmark = pytest.mark.slow

CONTACTS = 3_000
SERVICE = "churn_v1"
DATES = snapshot_dates(HISTORY_END, count=2, step_days=30)


@pytest.fixture(scope="module")
def snapshots() -> pl.DataFrame:
    return build_snapshots(synthetic_export(CONTACTS, CONTACTS * 40), DATES)


def _served(settings: FeatureSettings, contact_ids: list[int]) -> pl.DataFrame:
    return online_features(open_store(settings), SERVICE, contact_ids)


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_feast_reads_back_exactly_what_its_own_materialize_would_have_written(
    kind: str, snapshots: pl.DataFrame, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    ours_url = feast_url = None
    if kind == "redis":
        ours_url = str(request.getfixturevalue("redis_url"))
        feast_url = next_redis_database(ours_url)
        flush_redis(feast_url)
    ours = published_home(tmp_path / "ours", snapshots, ours_url)
    feasts = published_home(tmp_path / "feast", snapshots, feast_url)
    try:
        result = refresh_online_store(open_store(ours), ours.snapshot_path, DATES[-1], chunk_contacts=700)
        open_store(feasts).materialize(DATES[-1] - timedelta(hours=1), DATES[-1] + timedelta(seconds=1))
        everyone = list(range(1, CONTACTS + 2))  # one id past the last: unknown to both
        mine, theirs = _served(ours, everyone), _served(feasts, everyone)
    finally:
        if feast_url:
            flush_redis(feast_url)
    assert result.contacts == CONTACTS and result.written_now == CONTACTS
    assert mine.equals(theirs), "every value, null and event time as Feast's own materialize left them"
    latest = snapshots.filter(pl.col(EVENT_TIMESTAMP) == DATES[-1]).sort(ENTITY_KEY)
    assert mine.head(CONTACTS).select(latest.columns).equals(latest), "the online store holds the latest snapshot"
    assert mine.row(CONTACTS, named=True)[EVENT_TIMESTAMP] is None
    if kind == "sqlite":
        _assert_reads_use_the_primary_key(ours)
    registry_views = open_store(ours).list_feature_views()
    assert all(view.materialization_intervals for view in registry_views), "the registry knows what is online"


def _assert_reads_use_the_primary_key(settings: FeatureSettings) -> None:
    """The refresh drops Feast's extra entity_key index: Feast's own read must still be an
    index search, on the primary key, not a table scan."""
    import sqlite3

    connection = sqlite3.connect(settings.feast_dir / "online.db")
    try:
        for table in (view.table for view in online_views(open_store(settings))):
            plan = connection.execute(
                f'EXPLAIN QUERY PLAN SELECT entity_key, feature_name, value, event_ts FROM "{table}" '
                "WHERE entity_key IN (?, ?) ORDER BY entity_key",
                (b"a", b"b"),
            ).fetchall()
            detail = " ".join(str(row[-1]) for row in plan)
            assert "USING INDEX sqlite_autoindex" in detail and "SCAN" not in detail, detail
    finally:
        connection.close()


@pytest.mark.parametrize("kind", ["sqlite", pytest.param("redis", marks=pytest.mark.redis)])
def test_an_interrupted_refresh_goes_on_after_its_last_committed_chunk_and_a_finished_one_is_not_repeated(
    kind: str, snapshots: pl.DataFrame, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    url = str(request.getfixturevalue("redis_url")) if kind == "redis" else None
    settings = published_home(tmp_path / "home", snapshots.filter(pl.col(EVENT_TIMESTAMP) == DATES[0]), url)
    refresh_online_store(open_store(settings), settings.snapshot_path, DATES[0])
    write_snapshots(snapshots, settings.snapshot_path)  # a newer snapshot arrives

    class RefreshStoppedError(Exception):
        pass

    def stop_after_two_chunks(committed: int, total: int) -> None:
        if committed >= 1_000:
            raise RefreshStoppedError

    with pytest.raises(RefreshStoppedError):
        refresh_online_store(
            open_store(settings),
            settings.snapshot_path,
            DATES[1],
            chunk_contacts=500,
            on_progress=stop_after_two_chunks,
        )
    halfway = _served(settings, list(range(1, CONTACTS + 1)))
    refreshed = halfway.filter(pl.col(EVENT_TIMESTAMP) == DATES[1])
    assert refreshed.height == 1_000, "two whole chunks are online, nothing of the third"
    older = halfway.filter((pl.col(EVENT_TIMESTAMP) == DATES[0]) | pl.col(EVENT_TIMESTAMP).is_null())
    assert older.height == CONTACTS - 1_000, "the rest still hold the older snapshot (or nothing yet)"

    resumed = refresh_online_store(open_store(settings), settings.snapshot_path, DATES[1], chunk_contacts=500)
    assert (resumed.committed_before, resumed.written_now) == (1_000, CONTACTS - 1_000)
    latest = snapshots.filter(pl.col(EVENT_TIMESTAMP) == DATES[1]).sort(ENTITY_KEY)
    served = _served(settings, latest[ENTITY_KEY].to_list())
    assert served.select(latest.columns).equals(latest)

    again = refresh_online_store(open_store(settings), settings.snapshot_path, DATES[1])
    assert again.already_current and again.written_now == 0
    write_snapshots(snapshots, settings.snapshot_path)  # rebuilt, same content: nothing to do
    assert refresh_online_store(open_store(settings), settings.snapshot_path, DATES[1]).already_current
    changed = snapshots.with_columns(
        pl.when(pl.col(ENTITY_KEY) == 1).then(pl.col("open_deals_count") + 1).otherwise("open_deals_count")
    )
    write_snapshots(changed, settings.snapshot_path)  # one value changed: a new run writes everyone
    rebuilt = refresh_online_store(open_store(settings), settings.snapshot_path, DATES[1])
    assert rebuilt.written_now == CONTACTS
    assert (
        _served(settings, [1])["open_deals_count"][0]
        == changed.filter((pl.col(ENTITY_KEY) == 1) & (pl.col(EVENT_TIMESTAMP) == DATES[1]))["open_deals_count"][0]
    )


def test_the_encoders_agree_with_feasts_own_serializers() -> None:
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value
    from feast.type_map import python_values_to_proto_values
    from feast.value_type import ValueType

    layout = FeastOnlineFormat.probe(PROJECT, 3)
    ids = pl.Series([1, 7, 65_536, 2**40 + 3])
    keys = layout.entity_keys(ids).to_pylist()
    expected = [
        serialize_entity_key(EntityKey(join_keys=[ENTITY_KEY], entity_values=[Value(int64_val=i)]), 3)
        for i in ids.to_list()
    ]
    assert keys == expected
    counts = pl.Series([0, 1, None, 300, -5, 2**50], dtype=pl.Int64)
    amounts = pl.Series([0.0, -2.5, None, 1e-7, 3.25e17, 123.456], dtype=pl.Float64)
    for column, value_type in ((counts, ValueType.INT64), (amounts, ValueType.DOUBLE)):
        feasts = [proto.SerializeToString() for proto in python_values_to_proto_values(column.to_list(), value_type)]
        assert layout.values(column).to_pylist() == feasts
    assert value_texts(amounts).to_list() == [None if x is None else str(x) for x in amounts.to_list()]
    assert layout.redis_keys(pl.Series([9])).to_pylist() == [expected[0][:-8] + struct.pack("<q", 9) + b"crm_intel"]


@pytest.mark.redis
def test_a_command_redis_refuses_fails_the_bulk_transaction(redis_url: str) -> None:
    import redis

    client = redis.Redis.from_url(redis_url)
    client.set("a-string", "x")
    client.close()
    connection = RedisBulkConnection("127.0.0.1", 6379, db=int(redis_url.rsplit("/", 1)[1]))
    try:
        with pytest.raises(RedisBulkError, match="WRONGTYPE"):
            connection.transaction(encode_command(b"HSET", b"a-string", b"f", b"v"), 1)
    finally:
        connection.close()
