"""Entry point that assembles a training context from settings and runs a spec."""

from __future__ import annotations

from sqlalchemy import Engine

from crm_core.exports import CrmExport
from features.settings import FeatureSettings
from features.snapshots import available_snapshot_dates
from features.store import open_store
from training.pipeline import RunResult, StageCallback, TrainingContext, run
from training.recommendation_pipeline import RecommenderRunResult, RecommenderSpec, run_recommender
from training.settings import TrainingSettings
from training.spec import TrainingSpec
from training.specs import SPECS

RECOMMENDER_SPECS = {spec.model_name: spec for spec in (RecommenderSpec(),)}


class UnknownModelError(ValueError):
    def __init__(self, model_name: str) -> None:
        known = sorted([*SPECS, *RECOMMENDER_SPECS])
        super().__init__(f"unknown model '{model_name}'; known models: {', '.join(known)}")


def train(
    model_name: str,
    export: CrmExport,
    feature_settings: FeatureSettings,
    training_settings: TrainingSettings,
    on_stage: StageCallback | None = None,
) -> RunResult:
    spec = SPECS.get(model_name)
    if spec is None:
        raise UnknownModelError(model_name)
    return train_spec(spec, export, feature_settings, training_settings, on_stage)


def train_spec(
    spec: TrainingSpec,
    export: CrmExport,
    feature_settings: FeatureSettings,
    training_settings: TrainingSettings,
    on_stage: StageCallback | None = None,
) -> RunResult:
    """Run one spec, which may be a variant of a registered one (another seed or scorer set):
    what a data scientist does to compare a change on the same data before proposing it."""
    from training.tracking import Tracker  # mlflow import is slow; only pay it when training

    context = TrainingContext(
        export=export,
        store=open_store(feature_settings),
        snapshot_dates=available_snapshot_dates(feature_settings.snapshot_path),
        tracker=Tracker(training_settings),
        training_sets_dir=training_settings.training_sets_dir,
    )
    return run(spec, context, on_stage)


def train_recommender(
    model_name: str,
    engine: Engine,
    training_settings: TrainingSettings,
    on_stage: StageCallback | None = None,
) -> RecommenderRunResult:
    spec = RECOMMENDER_SPECS.get(model_name)
    if spec is None:
        raise UnknownModelError(model_name)
    from training.tracking import Tracker

    return run_recommender(spec, engine, Tracker(training_settings), training_settings.training_sets_dir, on_stage)
