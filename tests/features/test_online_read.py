"""The online reader answers what training sees: for the snapshot it was refreshed from, every
value equals Feast's point-in-time join at that time, and Feast's own `materialize` and
`get_online_features` give the same (SQLite here; Redis beside the Redis store's own test)."""

from __future__ import annotations

import os
import shutil
import sqlite3
from contextlib import closing
from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from polars.testing import assert_frame_equal

from benchmarks.feast_online import feast_online_features
from benchmarks.online_refresh import feast_store_on
from crm_intel.context import AppContext
from features.online.reader import OnlineStoreUnavailableError, open_online_reader
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.settings import FeatureSettings
from features.store import historical_features, open_store, service_feature_names

pytestmark = pytest.mark.slow

SERVICES = ("churn_v1", "lead_v1")
UNKNOWN = 10_000_000


def sample_ids(ctx: AppContext, count: int, seed: int) -> list[int]:
    latest = pl.read_parquet(ctx.features.snapshot_path)
    ids = latest.filter(pl.col(EVENT_TIMESTAMP) == latest[EVENT_TIMESTAMP].max())[ENTITY_KEY]
    return ids.sample(count, seed=seed).to_list()


def newest_snapshot_time(ctx: AppContext) -> object:
    return pl.scan_parquet(ctx.features.snapshot_path).select(pl.col(EVENT_TIMESTAMP).max()).collect().item()


@pytest.mark.parametrize("service", SERVICES)
def test_online_reads_equal_the_point_in_time_join_for_known_unknown_and_repeated_contacts(
    generated_crm: AppContext, service: str
) -> None:
    store = open_store(generated_crm.features)
    reader = open_online_reader(generated_crm.features, store)
    wanted = [*sample_ids(generated_crm, 40, seed=3), UNKNOWN]
    wanted.insert(5, wanted[0])  # a repeat is answered twice
    read = reader.read(service, wanted)
    assert read[ENTITY_KEY].to_list() == wanted
    assert read.columns[1:-1] == service_feature_names(store, service)
    assert read.row(-1)[1:] == (None,) * (read.width - 1), "a contact never stored: all null"
    known = read.filter(pl.col(ENTITY_KEY) != UNKNOWN)
    as_of = newest_snapshot_time(generated_crm)
    assert known[EVENT_TIMESTAMP].unique().to_list() == [as_of]

    distinct = known.unique(subset=ENTITY_KEY, maintain_order=True)
    training = historical_features(store, distinct.select(ENTITY_KEY, EVENT_TIMESTAMP), service)
    assert_frame_equal(distinct, training.select(distinct.columns), check_exact=True)


def test_feasts_own_materialize_and_read_give_the_same_values(generated_crm: AppContext, tmp_path: Path) -> None:
    copy = FeatureSettings(home=tmp_path / "var")
    shutil.copytree(generated_crm.features.feast_dir, copy.feast_dir)
    feast = feast_store_on(copy, None)
    as_of = newest_snapshot_time(generated_crm)
    assert isinstance(as_of, object)
    feast.materialize(start_date=as_of - timedelta(hours=1), end_date=as_of + timedelta(seconds=1))  # type: ignore[operator]
    wanted = sample_ids(generated_crm, 60, seed=4)
    ours = open_online_reader(generated_crm.features, open_store(generated_crm.features)).read("churn_v1", wanted)
    theirs = feast_online_features(feast, "churn_v1", wanted)
    assert_frame_equal(ours, theirs.select(ours.columns), check_exact=True, check_dtypes=False)


def _copied_store(generated_crm: AppContext, home: Path) -> FeatureSettings:
    copy = FeatureSettings(home=home)
    shutil.copytree(generated_crm.features.feast_dir, copy.feast_dir, ignore=shutil.ignore_patterns("offline"))
    copy.online_path.parent.mkdir(parents=True)
    with sqlite3.connect(generated_crm.features.online_path) as source, sqlite3.connect(copy.online_path) as target:
        source.backup(target)
    return copy


def test_a_replaced_store_file_is_read_afresh(generated_crm: AppContext, tmp_path: Path) -> None:
    """A restore swaps the file under a running server: its old connection would keep serving
    the old file's values forever."""
    copy = _copied_store(generated_crm, tmp_path / "var")
    reader = open_online_reader(copy, open_store(copy))
    contact_id = sample_ids(generated_crm, 1, seed=8)[0]
    assert reader.read("churn_v1", [contact_id])[EVENT_TIMESTAMP][0] is not None

    replacement = copy.online_path.with_name("replacement.db")
    with closing(sqlite3.connect(copy.online_path)) as source, closing(sqlite3.connect(replacement)) as target:
        source.backup(target)
    with closing(sqlite3.connect(replacement)) as edit:
        for (table,) in edit.execute("SELECT name FROM sqlite_master WHERE name LIKE 'contact_features_%'").fetchall():
            edit.execute(f'DELETE FROM "{table}"')
        edit.commit()
        edit.execute("PRAGMA journal_mode=DELETE")  # a restored file arrives whole, with no WAL beside it
    os.replace(replacement, copy.online_path)

    after = reader.read("churn_v1", [contact_id])
    assert after[EVENT_TIMESTAMP][0] is None, "the replaced file no longer holds the contact"


def test_a_corrupted_store_file_is_reported_as_unavailable(generated_crm: AppContext, tmp_path: Path) -> None:
    """The finding: a corrupted online store gave bare 500s while /readyz said ready."""
    copy = _copied_store(generated_crm, tmp_path / "var")
    reader = open_online_reader(copy, open_store(copy))
    contact_id = sample_ids(generated_crm, 1, seed=9)[0]
    reader.probe()
    assert reader.read("churn_v1", [contact_id])[EVENT_TIMESTAMP][0] is not None
    path = copy.online_path
    with sqlite3.connect(path) as settle:  # every page in the file itself, none left in the WAL
        settle.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    with path.open("r+b") as damaged:
        damaged.write(os.urandom(4096))  # the header and first page: not a database any more
    with pytest.raises(OnlineStoreUnavailableError, match="could not be read"):
        reader.probe()
    restarted = open_online_reader(copy, open_store(copy))
    with pytest.raises(OnlineStoreUnavailableError, match="DatabaseError"):
        restarted.read("churn_v1", [contact_id])


def test_an_unreachable_redis_is_reported_as_unavailable(generated_crm: AppContext, tmp_path: Path) -> None:
    settings = FeatureSettings(home=tmp_path / "var", redis_url="redis://127.0.0.1:1/0")
    reader = open_online_reader(settings, open_store(generated_crm.features))
    with pytest.raises(OnlineStoreUnavailableError, match="could not be read"):
        reader.probe()
    with pytest.raises(OnlineStoreUnavailableError, match="ConnectionError"):
        reader.read("churn_v1", [1])
