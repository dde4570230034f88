"""Scores checked against what happened (issue 22): the scores standing at each month's start,
judged by the model's own outcome once its horizon has passed, beside the holdout."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.db import make_session_factory
from crm_core.exports import export_crm, export_scores
from crm_core.services.predictions import record_predictions
from crm_core.unit_of_work import UnitOfWork
from crm_intel.app import modelling
from crm_intel.context import AppContext
from features.model_input import model_rows
from features.snapshots import available_snapshot_dates, data_end
from serving.champion import load_champion
from serving.scoring import score_features
from training.outcome_check import check_outcomes, month_starts
from training.pipeline import RunResult

HISTORY = Principal.system(Role.MODEL_SERVICE, "scores of past months")

pytestmark = pytest.mark.slow


def _score_as_of(ctx: AppContext, as_of: datetime) -> int:
    """Write the champion's scores of every contact on the snapshot at `as_of`, stamped then:
    the scores a rep would have seen that day."""
    champion = load_champion(ctx.registry, "churn")
    snapshot = pl.read_parquet(ctx.features.snapshot_path).filter(pl.col("event_timestamp") == as_of)
    predictions = score_features(champion, model_rows(snapshot, champion.feature_names))
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        written = record_predictions(uow, HISTORY, predictions, scored_at=as_of)
        uow.commit()
    return written.inserted


def _quiet_by_hand(ctx: AppContext, moment: datetime) -> set[int]:
    """Contacts engaged in the 90 days before `moment` with no order or activity in the 90 after,
    counted from the raw tables (not through the label code under test)."""
    export = export_crm(ctx.engine)
    events = pl.concat(
        [
            export.activities.select("contact_id", pl.col("occurred_at").alias("at")),
            export.orders.select("contact_id", pl.col("ordered_at").alias("at")),
        ]
    )
    before = events.filter((pl.col("at") <= moment) & (pl.col("at") > moment - timedelta(days=90)))
    after = events.filter((pl.col("at") > moment) & (pl.col("at") <= moment + timedelta(days=90)))
    return set(before["contact_id"].unique().to_list()) - set(after["contact_id"].unique().to_list())


def test_past_scores_are_judged_by_what_happened_and_kept_for_the_model_page(
    trained_crm: tuple[AppContext, RunResult],
) -> None:
    ctx, _ = trained_crm
    end = data_end(export_crm(ctx.engine))
    old_enough = [d for d in available_snapshot_dates(ctx.features.snapshot_path) if d <= end - timedelta(days=90)]
    scored_on = old_enough[-4]
    for as_of in old_enough[-4:]:  # scored monthly, as the nightly run keeps doing
        assert _score_as_of(ctx, as_of) > 0

    checked = modelling.check_outcomes(ctx, "churn")
    expected_months = month_starts(scored_on, end - timedelta(days=90))
    assert [m.month for m in checked.months] == [f"{moment:%Y-%m}" for moment in expected_months]
    first = checked.months[0]
    standing = export_scores(ctx.engine, "churn").filter(pl.col("scored_at") <= expected_months[0])
    went_quiet = _quiet_by_hand(ctx, expected_months[0]) & set(standing["contact_id"].to_list())
    assert first.positives == len(went_quiet), "the outcome counted by hand"
    assert sum(band.contacts for band in first.bands) == first.contacts
    assert first.roc_auc is not None and first.roc_auc > 0.6, first
    newest = checked.months[-1].roc_auc
    assert checked.holdout_roc_auc is not None and newest is not None
    print(f"live ROC-AUC by month {[m.roc_auc for m in checked.months]}, holdout {checked.holdout_roc_auc:.3f}")
    assert (checked.warning is not None) == (newest < checked.holdout_roc_auc - checked.margin)
    kept = ctx.registry.outcome_check(ctx.registry.verified_champion("churn"))
    assert kept == checked.as_document()


def test_scores_no_better_than_chance_raise_the_warning(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, _ = trained_crm
    end = data_end(export_crm(ctx.engine))
    scored_on = [d for d in available_snapshot_dates(ctx.features.snapshot_path) if d <= end - timedelta(days=150)][-1]
    _score_as_of(ctx, scored_on)
    scores = export_scores(ctx.engine, "churn")
    shuffled = scores.with_columns(pl.Series("score", np.random.default_rng(5).random(scores.height)))
    checked = check_outcomes(
        export_crm(ctx.engine), ctx.catalogue.get("churn"), shuffled, data_end=end, holdout_roc_auc=0.8
    )
    assert checked.months and all(m.roc_auc is not None and m.roc_auc < 0.65 for m in checked.months)
    assert checked.warning is not None
    assert "below the holdout's 0.800" in checked.warning and "crm-intel train churn" in checked.warning


def test_a_model_with_no_past_scores_has_no_month_to_judge_yet(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, _ = trained_crm
    checked = modelling.check_outcomes(ctx, "churn")
    assert checked.months == [] and checked.warning is None
    with pytest.raises(modelling.NotCheckableError):
        modelling.check_outcomes(ctx, "recommend")
