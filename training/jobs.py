"""Entry point that assembles a training context from settings and runs a spec."""

from __future__ import annotations

from crm_core.exports import CrmExport
from features.settings import FeatureSettings
from features.snapshots import available_snapshot_dates
from features.store import open_store
from training.pipeline import RunResult, StageCallback, TrainingContext, run
from training.settings import TrainingSettings
from training.specs import SPECS


class UnknownModelError(ValueError):
    def __init__(self, model_name: str) -> None:
        super().__init__(f"unknown model '{model_name}'; known models: {', '.join(sorted(SPECS))}")


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
    from training.tracking import Tracker  # mlflow import is slow; only pay it when training

    context = TrainingContext(
        export=export,
        store=open_store(feature_settings),
        snapshot_dates=available_snapshot_dates(feature_settings.snapshot_path),
        tracker=Tracker(training_settings),
        training_sets_dir=training_settings.training_sets_dir,
    )
    return run(spec, context, on_stage)
