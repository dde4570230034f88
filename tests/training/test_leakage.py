"""Leakage guard on whole training sets: the future changes no training row."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import insert

from crm_core.bulk_load import load_tables
from crm_core.demo import DemoConfig, generate
from crm_core.entities import Activity, Order
from crm_core.exports import export_crm
from crm_core.protection.keyring import FieldKeyring
from features.catalogue import BUILT_IN, Catalogue
from features.pipeline import build_and_publish
from features.schema import EVENT_TIMESTAMP
from features.snapshots import available_snapshot_dates
from features.store import open_store
from tests.conftest import app_context
from training.labels import LABEL
from training.pipeline import TrainingContext, build_training_set
from training.specs import spec_for
from training.split import TimePlan

CHURN = spec_for(Catalogue(BUILT_IN).get("churn"))

pytestmark = pytest.mark.slow


def test_events_after_as_of_change_no_training_row(tmp_path: Path, field_keys: FieldKeyring) -> None:
    ctx = app_context(tmp_path / "var", field_keys)
    load_tables(ctx.engine, generate(DemoConfig(contacts=800, seed=5)))

    def training_set() -> tuple[pl.DataFrame, TimePlan]:
        build_and_publish(export_crm(ctx.engine), ctx.features)
        context = TrainingContext(
            export=export_crm(ctx.engine),
            store=open_store(ctx.features),
            snapshot_dates=available_snapshot_dates(ctx.features.snapshot_path),
            registry=ctx.registry,
            training_sets_dir=ctx.training.training_sets_dir,
        )
        rows, plan = build_training_set(CHURN, context)
        assert isinstance(plan, TimePlan), "churn's history has dates: it is split by time"
        return rows, plan

    before, plan = training_set()
    holdout_date = plan.holdout_date
    # Every contact comes back a day after the holdout's as_of (still inside the data's span).
    comeback = holdout_date + timedelta(days=1)
    contact_ids = before["contact_id"].unique().to_list()
    with ctx.engine.begin() as connection:
        connection.execute(
            insert(Activity),
            [{"contact_id": c, "type": "web_visit", "channel": "web", "occurred_at": comeback} for c in contact_ids],
        )
        connection.execute(
            insert(Order),
            [{"contact_id": c, "ordered_at": comeback, "status": "completed", "total": 1.0} for c in contact_ids],
        )
    after, plan_after = training_set()
    assert plan_after == plan

    is_holdout = pl.col(EVENT_TIMESTAMP) == holdout_date
    key = ["contact_id", EVENT_TIMESTAMP]
    assert after.filter(~is_holdout).sort(key).equals(before.filter(~is_holdout).sort(key))
    features_only = pl.exclude(LABEL)
    assert (
        after.filter(is_holdout)
        .select(features_only)
        .sort(key)
        .equals(before.filter(is_holdout).select(features_only).sort(key))
    )
    # The injected future was visible where it should be: holdout churners came back.
    assert before.filter(is_holdout)[LABEL].sum() > 0
    assert after.filter(is_holdout)[LABEL].sum() == 0
