"""The real Feast store (DuckDB offline, SQLite online) against our own snapshots."""

from __future__ import annotations

from datetime import timedelta

import polars as pl
import pytest

from crm_intel.context import AppContext
from features.schema import EVENT_TIMESTAMP, FEATURE_NAMES
from features.snapshots import available_snapshot_dates
from features.store import (
    historical_features,
    open_store,
    service_feature_names,
)

pytestmark = pytest.mark.slow


def test_point_in_time_rows_equal_the_snapshot_they_fall_on(generated_crm: AppContext) -> None:
    snapshots = pl.read_parquet(generated_crm.features.snapshot_path)
    dates = available_snapshot_dates(generated_crm.features.snapshot_path)
    assert len(dates) == generated_crm.features.snapshot_count
    # Entity rows between snapshots see the latest snapshot at or before them, never a later one.
    between = (
        snapshots.filter(pl.col(EVENT_TIMESTAMP) == dates[-3])
        .select("contact_id")
        .with_columns((pl.lit(dates[-3]) + pl.duration(days=3)).cast(pl.Datetime("us")).alias(EVENT_TIMESTAMP))
    )
    store = open_store(generated_crm.features)
    retrieved = historical_features(store, between, "churn_v1")
    assert retrieved.height == between.height
    expected = snapshots.filter(pl.col(EVENT_TIMESTAMP) == dates[-3]).drop(EVENT_TIMESTAMP)
    got = retrieved.drop(EVENT_TIMESTAMP).select(expected.columns).sort("contact_id")
    assert got.equals(expected.sort("contact_id"))


def test_rows_before_any_snapshot_come_back_with_null_features(generated_crm: AppContext) -> None:
    """Feast's file store silently drops such rows; ours must keep every requested row."""
    store = open_store(generated_crm.features)
    first = available_snapshot_dates(generated_crm.features.snapshot_path)[0]
    too_early = pl.DataFrame(
        {"contact_id": [1, 2], EVENT_TIMESTAMP: [first - timedelta(days=400)] * 2},
        schema={"contact_id": pl.Int64, EVENT_TIMESTAMP: pl.Datetime("us")},
    )
    retrieved = historical_features(store, too_early, "churn_v1")
    assert retrieved.select("contact_id", EVENT_TIMESTAMP).equals(too_early)
    assert retrieved["activities_count_30d"].null_count() == 2


def test_feature_service_exposes_every_feature(generated_crm: AppContext) -> None:
    store = open_store(generated_crm.features)
    assert sorted(service_feature_names(store, "churn_v1")) == sorted(FEATURE_NAMES)
