"""The direct online reader returns what Feast's `get_online_features` returns (SQLite here;
Redis beside the Redis store's own test)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from pathlib import Path

import polars as pl
import pytest

from crm_intel.context import AppContext
from features.online_read import (
    OnlineStoreUnavailableError,
    SqliteOnlineReader,
    describe_service,
    open_online_reader,
)
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.settings import FeatureSettings
from features.store import online_features, online_store_path, open_store

pytestmark = pytest.mark.slow

SERVICES = ("churn_v1", "lead_v1")
UNKNOWN = 10_000_000


def assert_same_as_feast(read: pl.DataFrame, feast: pl.DataFrame) -> None:
    """Equal values, rows in the order asked; Feast's column order varies between processes
    (it comes from a set), ours is the service's declared order."""
    assert sorted(read.columns) == sorted(feast.columns)
    assert read.select(feast.columns).equals(feast)


def sample_ids(ctx: AppContext, count: int, seed: int) -> list[int]:
    latest = pl.read_parquet(ctx.features.snapshot_path)
    ids = latest.filter(pl.col(EVENT_TIMESTAMP) == latest[EVENT_TIMESTAMP].max())[ENTITY_KEY]
    return ids.sample(count, seed=seed).to_list()


@pytest.mark.parametrize("service", SERVICES)
def test_sqlite_reads_equal_feasts_for_known_unknown_and_repeated_contacts(
    generated_crm: AppContext, service: str
) -> None:
    store = open_store(generated_crm.features)
    reader = open_online_reader(store)
    assert isinstance(reader, SqliteOnlineReader)
    wanted = [*sample_ids(generated_crm, 40, seed=3), UNKNOWN]
    wanted.insert(5, wanted[0])  # a repeat is answered twice, like Feast does
    read = reader.read(service, wanted)
    assert read[ENTITY_KEY].to_list() == wanted
    assert read.columns[1:-1] == describe_service(store, service).feature_names
    assert read.row(-1)[1:] == (None,) * (read.width - 1), "a contact never stored: all null"
    assert read[EVENT_TIMESTAMP][:-1].null_count() == 0
    assert_same_as_feast(read, online_features(store, service, wanted))


def test_a_replaced_store_file_is_read_afresh(generated_crm: AppContext, tmp_path: Path) -> None:
    """A restore swaps the file under a running server: its old connection would keep serving
    the old file's values forever."""
    copy = FeatureSettings(home=tmp_path / "var")
    shutil.copytree(generated_crm.features.feast_dir, copy.feast_dir, ignore=shutil.ignore_patterns("offline"))
    for leftover in copy.feast_dir.glob("online.db-*"):
        leftover.unlink()  # the original's WAL belongs to the original; the copy below is whole
    with (
        sqlite3.connect(online_store_path(generated_crm.features)) as source,
        sqlite3.connect(online_store_path(copy)) as target,
    ):
        source.backup(target)
    store = open_store(copy)
    reader = open_online_reader(store)
    contact_id = sample_ids(generated_crm, 1, seed=8)[0]
    assert reader.read("churn_v1", [contact_id])[EVENT_TIMESTAMP][0] is not None

    replacement = copy.feast_dir / "online.replacement.db"
    with sqlite3.connect(online_store_path(copy)) as source, sqlite3.connect(replacement) as target:
        source.backup(target)
    with sqlite3.connect(replacement) as edit:
        for (table,) in edit.execute("SELECT name FROM sqlite_master WHERE type = 'table' AND name LIKE 'crm_intel_%'"):
            if table != "crm_intel_online_refresh":
                edit.execute(f'DELETE FROM "{table}"')
    os.replace(replacement, online_store_path(copy))

    after = reader.read("churn_v1", [contact_id])
    assert after[EVENT_TIMESTAMP][0] is None, "the replaced file no longer holds the contact"
    assert_same_as_feast(after, online_features(open_store(copy), "churn_v1", [contact_id]))


def _copied_store(generated_crm: AppContext, home: Path) -> FeatureSettings:
    copy = FeatureSettings(home=home)
    shutil.copytree(generated_crm.features.feast_dir, copy.feast_dir, ignore=shutil.ignore_patterns("offline"))
    for leftover in copy.feast_dir.glob("online.db-*"):
        leftover.unlink()
    with (
        sqlite3.connect(online_store_path(generated_crm.features)) as source,
        sqlite3.connect(online_store_path(copy)) as target,
    ):
        source.backup(target)
    return copy


def test_a_corrupted_store_file_is_reported_as_unavailable(generated_crm: AppContext, tmp_path: Path) -> None:
    """The finding: a corrupted online store gave bare 500s while /readyz said ready."""
    copy = _copied_store(generated_crm, tmp_path / "var")
    reader = open_online_reader(open_store(copy))
    contact_id = sample_ids(generated_crm, 1, seed=9)[0]
    reader.probe()
    assert reader.read("churn_v1", [contact_id])[EVENT_TIMESTAMP][0] is not None
    path = online_store_path(copy)
    with sqlite3.connect(path) as settle:  # every page in the file itself, none left in the WAL
        settle.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with path.open("r+b") as damaged:
        damaged.write(os.urandom(4096))  # the header and first page: not a database any more
    with pytest.raises(OnlineStoreUnavailableError, match="could not be read"):
        reader.probe()
    restarted = open_online_reader(open_store(copy))
    with pytest.raises(OnlineStoreUnavailableError, match="DatabaseError"):
        restarted.read("churn_v1", [contact_id])


def test_an_unreachable_redis_is_reported_as_unavailable(generated_crm: AppContext) -> None:
    from features.online_read import RedisOnlineReader

    reader = RedisOnlineReader(open_store(generated_crm.features), "127.0.0.1:1")
    with pytest.raises(OnlineStoreUnavailableError, match="could not be read"):
        reader.probe()
    with pytest.raises(OnlineStoreUnavailableError, match="ConnectionError"):
        reader.read("churn_v1", [1])
