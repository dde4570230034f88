"""The one training pipeline: every model runs these stages, configured by its spec.

labels -> point-in-time features (Feast) -> time split -> fit -> holdout metrics -> MLflow run
and registry version -> promotion gate against the champion on the same holdout.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from crm_core.exports import CrmExport
from features.model_input import to_model_input
from features.schema import EVENT_TIMESTAMP
from features.store import historical_features, service_feature_names
from models.metrics import binary_metrics
from training.labels import LABEL
from training.promotion import PromotionDecision, decide
from training.readiness import NotReadyError, assess
from training.spec import TrainingSpec
from training.tracking import Tracker

if TYPE_CHECKING:
    from feast import FeatureStore

StageCallback = Callable[[str], None]


@dataclass(frozen=True)
class TrainingContext:
    export: CrmExport
    store: FeatureStore
    snapshot_dates: list[datetime]
    tracker: Tracker
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


def data_digest(frame: pl.DataFrame) -> str:
    """Content hash of a training set: equal data, equal digest, whatever the row order."""
    row_hashes = np.sort(frame.hash_rows(seed=0).to_numpy())
    return hashlib.sha256(row_hashes.tobytes() + ",".join(frame.columns).encode()).hexdigest()[:16]


def build_training_set(spec: TrainingSpec, context: TrainingContext) -> tuple[pl.DataFrame, datetime]:
    plan = spec.split.plan(context.snapshot_dates)
    labels = spec.build_labels(context.export, [*plan.train_dates, plan.holdout_date])
    return historical_features(context.store, labels, spec.feature_service), plan.holdout_date


def run(spec: TrainingSpec, context: TrainingContext, on_stage: StageCallback | None = None) -> RunResult:
    stage = on_stage or (lambda _name: None)
    stage("labels and point-in-time features")
    training_set, holdout_date = build_training_set(spec, context)
    digest = data_digest(training_set)
    context.training_sets_dir.mkdir(parents=True, exist_ok=True)
    snapshot_file = context.training_sets_dir / f"{spec.model_name}-{digest}.parquet"
    training_set.write_parquet(snapshot_file)

    feature_names = service_feature_names(context.store, spec.feature_service)
    is_holdout = training_set[EVENT_TIMESTAMP] == holdout_date
    train, holdout = training_set.filter(~is_holdout), training_set.filter(is_holdout)
    x_train, x_holdout = to_model_input(train, feature_names), to_model_input(holdout, feature_names)
    y_train, y_holdout = train[LABEL].to_numpy(), holdout[LABEL].to_numpy()
    readiness = assess(train, holdout, LABEL, feature_names, spec.minimums)
    if not readiness.ready:
        raise NotReadyError(spec.model_name, readiness)

    stage(f"fit on {train.height:,} rows")
    model = spec.estimator_factory(spec.seed).fit(x_train, y_train)
    metrics = binary_metrics(y_holdout, model.predict_proba(x_holdout)[:, 1])

    stage("champion comparison")
    champion_version = context.tracker.champion_version(spec.model_name)
    champion_metric = None
    if champion_version is not None:
        champion = context.tracker.load_version(spec.model_name, champion_version)
        champion_metric = binary_metrics(y_holdout, champion.predict_proba(x_holdout)[:, 1])[spec.primary_metric]
    decision = decide(
        metric=spec.primary_metric,
        candidate=metrics[spec.primary_metric],
        champion=champion_metric,
        min_improvement=spec.min_improvement,
    )

    stage("log and register in MLflow")
    logged = context.tracker.log_training_run(
        model_name=spec.model_name,
        model=model,
        example_input=x_holdout.head(50),
        params={
            **spec.params(),
            "train_dates": ",".join(f"{d:%Y-%m-%d}" for d in sorted(set(train[EVENT_TIMESTAMP].to_list()))),
            "holdout_date": f"{holdout_date:%Y-%m-%d}",
            "train_rows": train.height,
            "holdout_rows": holdout.height,
            "feature_count": len(feature_names),
            "data_digest": digest,
        }
        | readiness.params(),
        metrics={f"holdout_{name}": value for name, value in metrics.items()}
        | ({f"champion_holdout_{spec.primary_metric}": champion_metric} if champion_metric is not None else {}),
        tags={"data_snapshot": str(snapshot_file), "promotion": decision.reason},
    )
    context.tracker.tag_version(
        spec.model_name, logged.version, {"promoted": str(decision.promote).lower(), "reason": decision.reason}
    )
    if decision.promote:
        context.tracker.set_champion(spec.model_name, logged.version)
    return RunResult(
        model_name=spec.model_name,
        version=logged.version,
        run_id=logged.run_id,
        metrics=metrics,
        champion_metric=champion_metric,
        decision=decision,
        train_rows=train.height,
        holdout_rows=holdout.height,
        data_digest=digest,
    )
