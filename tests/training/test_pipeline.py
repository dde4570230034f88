"""The one pipeline on a generated CRM, with the real Feast store and MLflow registry."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import polars as pl
import pytest

from crm_core.exports import export_crm
from crm_intel.context import AppContext
from features.catalogue import BUILT_IN, Catalogue
from features.model_registry import NothingToRollBackError
from features.model_registry.vocabulary import CHAMPION_ALIAS
from models.graduated import DataMinimums
from models.scorers import Contributions, logit
from training.jobs import train
from training.pipeline import RunResult, TrainingContext, run
from training.readiness import NotReadyError, assess
from training.specs import spec_for

CHURN = spec_for(Catalogue(BUILT_IN).get("churn"))

pytestmark = pytest.mark.slow


def context_for(ctx: AppContext) -> TrainingContext:
    from features.snapshots import available_snapshot_dates
    from features.store import open_store

    return TrainingContext(
        export=export_crm(ctx.engine),
        store=open_store(ctx.features),
        snapshot_dates=available_snapshot_dates(ctx.features.snapshot_path),
        registry=ctx.registry,
        training_sets_dir=ctx.training.training_sets_dir,
    )


class NoSignalScorer:
    """A challenger that learns nothing: every contact gets the training outcome rate."""

    kind = "no_signal"

    def __init__(self, seed: int) -> None:
        del seed
        self.feature_names: list[str] = []
        self.rate = 0.0

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> NoSignalScorer:
        self.feature_names = list(x.columns)
        self.rate = float(logit(float(np.mean(y))))
        return self

    def raw_score(self, x: pd.DataFrame) -> np.ndarray:
        return np.full(len(x), self.rate)

    def contributions(self, x: pd.DataFrame) -> Contributions:
        return Contributions(np.zeros((len(x), len(self.feature_names))), self.raw_score(x), self.feature_names)


NO_SIGNAL = dict.fromkeys(("rules", "logistic", "lightgbm"), NoSignalScorer)


def test_model_learns_the_generators_signal(trained_crm: tuple[AppContext, RunResult]) -> None:
    _, result = trained_crm
    assert result.metrics["roc_auc"] > 0.75
    assert result.metrics["lift_top_decile"] > 2.0
    assert result.holdout_rows > 500 and result.train_rows > 3 * result.holdout_rows
    assert 0.02 < result.metrics["positive_rate"] < 0.5


def test_first_model_is_champion_and_run_is_fully_logged(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, result = trained_crm
    client = ctx.registry.client
    assert str(client.get_model_version_by_alias("churn", CHAMPION_ALIAS).version) == result.version
    version = ctx.registry.version("churn", result.version)
    assert version.is_champion and version.run_id == result.run_id
    assert version.params["data_digest"] == result.data_digest
    assert version.params["feature_service"] == "churn_v1"
    assert version.holdout["roc_auc"] == pytest.approx(result.metrics["roc_auc"])
    fitted = {name.removeprefix("calibration_auc_") for name in version.metrics if name.startswith("calibration_auc_")}
    assert "logistic" in fitted, "the simplest scorer is always fitted beside the chosen one"
    assert {f"roc_auc_{kind}" for kind in fitted} <= set(version.holdout), "each one judged on the holdout too"
    assert version.holdout[f"roc_auc_{result.scorer}"] == pytest.approx(result.metrics["roc_auc"], abs=0.02), (
        "the chosen scorer before calibration ranks nearly as after"
    )
    snapshot = version.data_snapshot
    assert snapshot is not None
    assert (
        snapshot.is_relative_to(ctx.training.training_sets_dir)
        and pl.read_parquet(snapshot).height == result.train_rows + result.holdout_rows
    )
    assert version.promoted and version.verdict == result.decision.reason
    artifact_dir = ctx.training.artifact_root
    assert any(artifact_dir.rglob("MLmodel")), "model artifacts live under the data home"


def test_retraining_is_reproducible_and_a_tie_is_not_promoted(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, first = trained_crm
    again = train("churn", export_crm(ctx.engine), ctx.features, ctx.training)
    assert again.data_digest == first.data_digest
    assert again.metrics == first.metrics
    assert not again.decision.promote
    assert ctx.registry.champion_version("churn") == first.version


def test_promotion_gate_refuses_a_worse_challenger(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, champion = trained_crm
    challenger = run(replace(CHURN, scorers=NO_SIGNAL), context_for(ctx))
    # A model without signal scores 0.5 on the real holdout: the signal assertion above fails it.
    assert challenger.metrics["roc_auc"] == pytest.approx(0.5)
    assert challenger.champion_metric == pytest.approx(champion.metrics["roc_auc"])
    assert not challenger.decision.promote
    assert "does not beat champion" in challenger.decision.reason
    assert ctx.registry.champion_version("churn") == champion.version
    assert ctx.registry.version("churn", challenger.version).lost_the_gate
    assert ctx.registry.challenger("churn") == ctx.registry.version("churn", challenger.version)


def test_rollback_restores_the_previous_champion_and_walks_back_no_further(
    trained_crm: tuple[AppContext, RunResult],
) -> None:
    ctx, first = trained_crm
    registry = ctx.registry
    # A spec that promotes on a tie: the retrain becomes champion, then is rolled back.
    promoted = run(replace(CHURN, min_improvement=-1.0), context_for(ctx))
    assert promoted.decision.promote and promoted.version != first.version
    assert registry.champion_version("churn") == promoted.version
    assert registry.champion_history("churn")[-2:] == [first.version, promoted.version]

    undone = registry.rollback("churn")
    assert (undone.from_version, undone.to_version) == (promoted.version, first.version)
    assert registry.champion_version("churn") == first.version
    rolled_back = registry.version("churn", promoted.version)
    assert rolled_back.rolled_back and rolled_back.verdict == f"rolled back to v{first.version}"
    assert registry.challenger("churn") is None, "a rolled-back version is nobody's challenger"
    with pytest.raises(NothingToRollBackError, match="no champion of 'churn' is recorded before"):
        registry.rollback("churn")
    assert registry.champion_version("churn") == first.version


def test_drift_compares_the_champions_training_set_with_the_newest_population(
    trained_crm: tuple[AppContext, RunResult],
) -> None:
    from features.populations import newest_population
    from features.schema import EVENT_TIMESTAMP, FEATURE_NAMES
    from models.drift import feature_drift, worst_real_drift
    from training.drift_report import champion_drift, drift_of, log_champion_drift, newest_snapshot

    ctx, _ = trained_crm
    churn = ctx.catalogue.get("churn")
    drift = champion_drift(ctx.registry, churn, ctx.features)
    assert drift is not None and {d.feature for d in drift} == set(FEATURE_NAMES)
    assert all(d.psi >= 0 for d in drift)
    assert [d.psi for d in drift] == sorted((d.psi for d in drift), reverse=True)
    scored = newest_population(ctx.features.snapshot_path, ctx.features.population_path, churn).members
    champion = ctx.registry.verified_champion("churn")
    assert champion.data_snapshot is not None
    training = pl.read_parquet(champion.data_snapshot)
    reference = newest_snapshot(training)
    assert reference[EVENT_TIMESTAMP].n_unique() == 1 < training[EVENT_TIMESTAMP].n_unique()
    assert reference[EVENT_TIMESTAMP].max() == training[EVENT_TIMESTAMP].max()
    matched = drift_of(champion, reference)
    assert matched is not None and max(d.psi for d in matched) == pytest.approx(0.0), "the reference is that snapshot"

    # Tenure grows between the newest training snapshot and now: some shift, but far less than
    # against every training snapshot pooled (the alarm a fresh install used to raise).
    tenure_drift = next(d for d in drift if d.feature == "tenure_days")
    tenure = tenure_drift.psi
    assert tenure_drift.by_construction and tenure_drift.verdict == "moves with time", "an age is not an alarm"
    assert tenure_drift.span_psi > 0.01, "it moved over the same span inside the training history too"

    def tenure_of(frame: pl.DataFrame) -> np.ndarray:
        return frame["tenure_days"].cast(pl.Float64).fill_null(float("nan")).to_numpy()

    pooled = feature_drift({"tenure_days": tenure_of(training)}, {"tenure_days": tenure_of(scored)})[0].psi
    assert 0.01 < tenure < pooled, (tenure, pooled)
    unregistered = churn.model_copy(update={"name": "no_such_model"})
    assert champion_drift(ctx.registry, unregistered, ctx.features) is None

    logged = log_champion_drift(ctx.registry, "churn", scored)
    assert logged == drift
    champion = ctx.registry.verified_champion("churn")
    worst = worst_real_drift(drift)
    assert champion.worst_drift == pytest.approx(0.0 if worst is None else worst.psi), "the calendar raises no alarm"
    assert champion.drift_span == pytest.approx({d.feature: d.span_psi for d in drift})
    assert dict(champion.drift) == pytest.approx({d.feature: d.psi for d in drift})
    assert [psi for _, psi in champion.drift] == sorted((psi for _, psi in champion.drift), reverse=True)


def test_below_the_minimums_no_model_is_fitted_and_the_shortfall_is_named(
    trained_crm: tuple[AppContext, RunResult],
) -> None:
    ctx, _ = trained_crm
    versions_before = len(ctx.registry.versions("churn"))
    demanding = replace(CHURN, minimums=DataMinimums(min_minority=10**6))
    with pytest.raises(NotReadyError, match=r"insufficient data to train 'churn': training set has \d+ rows"):
        run(demanding, context_for(ctx))
    assert len(ctx.registry.versions("churn")) == versions_before, "nothing registered"


def test_readiness_tells_an_empty_slice_from_a_short_one() -> None:
    train = pl.DataFrame({"label": [0, 1] * 100, "visits": [1.0] * 200})
    few = pl.DataFrame({"label": [0] * 30 + [1] * 3, "visits": [1.0] * 33})
    report = assess(train, few, few.clear(), "label", ["visits"], DataMinimums())
    assert not report.ready
    assert report.problems == [
        "calibration slice has 3 of the rarer outcome; needs 10",
        "holdout holds nobody: no contact is in the model's population at its snapshot (its rule, or contacts "
        "no longer arriving); widen the population or bring newer history",
    ]


def test_readiness_counts_missing_and_invalid_values() -> None:
    train = pl.DataFrame({"label": [0, 1] * 100, "visits": [1.0, None] * 100, "spend": [5.0] * 199 + [-1.0]})
    holdout = pl.DataFrame({"label": [0, 1] * 20, "visits": [2.0] * 40, "spend": [float("inf")] + [1.0] * 39})
    report = assess(train, holdout, holdout, "label", ["visits", "spend"], DataMinimums())
    health = {column.column: column for column in report.columns}
    assert health["visits"].missing_share == pytest.approx(100 / 280)
    assert health["spend"].invalid == 3
    assert not report.ready and report.problems == ["spend: 3 invalid values"]
    assert report.train.positives == 100 and report.kinds_allowed == ["logistic"]
