"""The production online store: Feast on a real Redis, fed and purged by our pipeline."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
import redis

from crm_core.exports import export_crm
from crm_intel.context import AppContext
from features.erasure import forget_contacts
from features.online_read import RedisOnlineReader, open_online_reader
from features.online_redis import PROGRESS_KEY
from features.pipeline import build_and_publish
from features.schema import EVENT_TIMESTAMP
from features.settings import FeatureSettings
from features.store import online_features, open_store

pytestmark = [pytest.mark.slow, pytest.mark.redis]


def test_materialized_features_are_served_from_redis_and_erasure_removes_them(
    generated_crm: AppContext, redis_url: str, tmp_path: Path
) -> None:
    settings = FeatureSettings(home=tmp_path / "var", redis_url=redis_url)
    built = build_and_publish(export_crm(generated_crm.engine), settings)
    assert not (settings.feast_dir / "online.db").exists(), "nothing went to the embedded SQLite store"
    client = redis.Redis.from_url(redis_url)
    try:
        # one hash per contact of the latest snapshot, and the refresh's own progress record
        assert client.dbsize() == built.contacts_latest + 1
        assert client.hget(PROGRESS_KEY, "finished") == b"1"
    finally:
        client.close()

    latest = pl.read_parquet(settings.snapshot_path).filter(pl.col(EVENT_TIMESTAMP) == built.as_of_dates[-1])
    sample = latest.sample(25, seed=4).sort("contact_id")
    store = open_store(settings)
    served = online_features(store, "churn_v1", sample["contact_id"].to_list()).sort("contact_id")
    assert served.select(sample.columns).equals(sample), "online values equal the offline latest snapshot"

    reader = open_online_reader(store)
    assert isinstance(reader, RedisOnlineReader)
    wanted = [*sample["contact_id"].to_list(), 10_000_000]
    for service in ("churn_v1", "lead_v1"):
        feast = online_features(store, service, wanted)
        assert reader.read(service, wanted).select(feast.columns).equals(feast), "the direct read equals Feast's"

    erased = int(sample["contact_id"][0])
    assert forget_contacts(settings, [erased]).online_rows_removed == 1
    after = online_features(store, "churn_v1", [erased, int(sample["contact_id"][1])])
    assert after[EVENT_TIMESTAMP].to_list()[0] is None and after[EVENT_TIMESTAMP].to_list()[1] is not None
    direct = reader.read("churn_v1", [erased, int(sample["contact_id"][1])])
    assert direct.select(after.columns).equals(after), "an erased contact is gone from the direct read too"
