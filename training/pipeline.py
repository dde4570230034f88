"""The one training pipeline: every model runs these stages, configured by its spec.

labels -> point-in-time features (Feast) -> time split (fit / calibration / holdout) -> data
readiness -> graduated fit and calibration -> holdout metrics -> MLflow run and registry version
-> promotion gate against the champion on the same holdout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import lightgbm
import numpy as np
import polars as pl
import sklearn
from sklearn.metrics import roc_auc_score

from crm_core.exports import CrmExport
from features.model_input import to_model_input
from features.model_registry import RunRecord
from features.model_registry.vocabulary import BAND_HIGH_PARAM, BAND_MEDIUM_PARAM
from features.schema import custom_field_of, is_custom
from features.store import historical_features, service_feature_names
from models.bands import Bands
from models.calibration import CalibratedModel
from models.curves import CURVES_ARTIFACT, holdout_curves
from models.graduated import GraduatedFit, fit_graduated
from models.metrics import binary_metrics
from training.labels import LABEL
from training.leakage import leaky_fields
from training.promotion import PromotionDecision, decide
from training.readiness import NotReadyError, ReadinessReport, assess
from training.spec import TrainingSpec
from training.split import SplitParts, SplitPlan

if TYPE_CHECKING:
    import pandas as pd
    from feast import FeatureStore

    from features.model_registry import ModelRegistry

StageCallback = Callable[[str], None]


@dataclass(frozen=True)
class TrainingContext:
    export: CrmExport
    store: FeatureStore
    snapshot_dates: list[datetime]
    registry: ModelRegistry
    training_sets_dir: Path


@dataclass(frozen=True)
class RunResult:
    model_name: str
    version: str
    run_id: str
    metrics: dict[str, float]
    champion_metric: float | None
    decision: PromotionDecision
    train_rows: int
    holdout_rows: int
    data_digest: str
    scorer: str
    bands: Bands
    readiness: ReadinessReport


def data_digest(frame: pl.DataFrame) -> str:
    """Content hash of a training set: equal data, equal digest, whatever the row order."""
    row_hashes = np.sort(frame.hash_rows(seed=0).to_numpy())
    return hashlib.sha256(row_hashes.tobytes() + ",".join(frame.columns).encode()).hexdigest()[:16]


def build_training_set(spec: TrainingSpec, context: TrainingContext) -> tuple[pl.DataFrame, SplitPlan]:
    plan = spec.split.plan(context.snapshot_dates)
    return labelled_rows(spec, context, plan.label_dates), plan


def labelled_rows(spec: TrainingSpec, context: TrainingContext, dates: list[datetime]) -> pl.DataFrame:
    """The spec's labelled rows at `dates` with their point-in-time features, in its population."""
    labels = spec.build_labels(context.export, dates)
    rows = historical_features(context.store, labels, spec.feature_service)
    return rows.filter(spec.population) if spec.population is not None else rows


@dataclass(frozen=True)
class PreparedData:
    """What a fit would learn from, before anything is fitted: the labelled point-in-time rows,
    how they split, the columns used (leaky custom fields taken out) and the readiness report."""

    training_set: pl.DataFrame
    plan: SplitPlan
    parts: SplitParts
    feature_names: list[str]
    readiness: ReadinessReport


def prepare(spec: TrainingSpec, context: TrainingContext) -> PreparedData:
    """The rows, split and report a run starts from; `crm-intel models readiness` shows the same."""
    training_set, plan = build_training_set(spec, context)
    feature_names = service_feature_names(context.store, spec.feature_service)
    parts = plan.parts(training_set, LABEL)
    readiness = assess(parts.fit, parts.calibration, parts.holdout, LABEL, feature_names, spec.minimums)
    refused = leaky_fields(parts.fit, LABEL, feature_names)
    if refused:
        readiness = replace(readiness, refused=refused)
        gone = {leaky.field for leaky in refused}
        feature_names = [name for name in feature_names if not (is_custom(name) and custom_field_of(name) in gone)]
    return PreparedData(training_set, plan, parts, feature_names, readiness)


def candidates_on_holdout(fitted: GraduatedFit, x_holdout: pd.DataFrame, y_holdout: np.ndarray) -> dict[str, float]:
    """Each fitted scorer's ROC-AUC on the holdout (`holdout_roc_auc_<kind>`), none when the
    holdout holds one outcome only."""
    if len(np.unique(y_holdout)) < 2:
        return {}
    return {
        f"holdout_roc_auc_{kind}": float(roc_auc_score(y_holdout, scorer.raw_score(x_holdout)))
        for kind, scorer in fitted.candidates.items()
    }


def run(spec: TrainingSpec, context: TrainingContext, on_stage: StageCallback | None = None) -> RunResult:
    stage = on_stage or (lambda _name: None)
    stage("labels and point-in-time features")
    prepared = prepare(spec, context)
    training_set, plan, readiness, feature_names = (
        prepared.training_set,
        prepared.plan,
        prepared.readiness,
        prepared.feature_names,
    )
    digest = data_digest(training_set)
    context.training_sets_dir.mkdir(parents=True, exist_ok=True)
    snapshot_file = context.training_sets_dir / f"{spec.model_name}-{digest}.parquet"
    training_set.write_parquet(snapshot_file)

    fit_rows, calibration_rows, holdout = prepared.parts.fit, prepared.parts.calibration, prepared.parts.holdout
    if not readiness.ready:
        raise NotReadyError(spec.model_name, readiness)
    if readiness.refused:
        stage("refused as leaky: " + ", ".join(leaky.field for leaky in readiness.refused))
    x_fit, x_calibration, x_holdout = (
        to_model_input(part, feature_names) for part in (fit_rows, calibration_rows, holdout)
    )
    y_fit, y_calibration, y_holdout = (part[LABEL].to_numpy() for part in (fit_rows, calibration_rows, holdout))

    stage(f"fit on {fit_rows.height:,} rows, calibrate on {calibration_rows.height:,}")
    fitted = fit_graduated(
        x_fit,
        y_fit,
        x_calibration,
        y_calibration,
        minimums=spec.minimums,
        seed=spec.seed,
        kinds=list(spec.scorers),
        factories=spec.scorers,
    )
    model = fitted.model
    holdout_scores = model.predict_proba(x_holdout)[:, 1]
    metrics = binary_metrics(y_holdout, holdout_scores)
    bands = Bands.from_outcome_rate(float(np.mean(y_calibration)))

    stage("champion comparison")
    champion_version = context.registry.champion_version(spec.model_name)
    champion_metric = None
    if champion_version is not None:
        champion = context.registry.load(spec.model_name, champion_version, CalibratedModel)
        champion_metric = binary_metrics(y_holdout, champion.predict_proba(x_holdout)[:, 1])[spec.primary_metric]
    decision = decide(
        metric=spec.primary_metric,
        candidate=metrics[spec.primary_metric],
        champion=champion_metric,
        min_improvement=spec.min_improvement,
    )

    stage("holdout curves and importance")
    curves = holdout_curves(model, x_holdout, y_holdout, holdout_scores)

    stage("log and register in MLflow")
    run = RunRecord(
        model_name=spec.model_name,
        requirements=[f"lightgbm=={lightgbm.__version__}", f"scikit-learn=={sklearn.__version__}"],
        params={
            **spec.params(),
            **plan.params(),
            "fit_rows": fit_rows.height,
            "calibration_rows": calibration_rows.height,
            "holdout_rows": holdout.height,
            "feature_count": len(feature_names),
            "data_digest": digest,
            "scorer": model.kind,
            "calibration": model.calibrator.method,
            BAND_MEDIUM_PARAM: bands.medium,
            BAND_HIGH_PARAM: bands.high,
        }
        | readiness.params(),
        holdout_metrics=metrics,
        other_metrics={f"calibration_auc_{kind}": value for kind, value in fitted.candidate_auc.items()}
        | candidates_on_holdout(fitted, x_holdout, y_holdout),
        champion=None if champion_metric is None else (str(champion_version), spec.primary_metric, champion_metric),
        data_snapshot=snapshot_file,
        promotion_reason=decision.reason,
    )
    logged = context.registry.log_scorer_run(run, model, x_holdout.head(50), documents={CURVES_ARTIFACT: curves})
    context.registry.record_verdict(spec.model_name, logged.version, promote=decision.promote, reason=decision.reason)
    return RunResult(
        model_name=spec.model_name,
        version=logged.version,
        run_id=logged.run_id,
        metrics=metrics,
        champion_metric=champion_metric,
        decision=decision,
        train_rows=fit_rows.height + calibration_rows.height,
        holdout_rows=holdout.height,
        data_digest=digest,
        scorer=model.kind,
        bands=bands,
        readiness=readiness,
    )
