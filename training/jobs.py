"""Entry points that assemble a training context from settings and run a catalogue entry."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from crm_core.exports import CrmExport
from features.catalogue import Catalogue, ModelKind
from features.catalogue_file import load_catalogue
from features.model_registry import ModelRegistry
from features.settings import FeatureSettings
from features.snapshots import available_snapshot_dates, dated_events
from features.store import open_store
from training.backtest import STEPS, BacktestResult, backtest
from training.pipeline import RunResult, StageCallback, TrainingContext, prepare, run
from training.readiness import ReadinessCheck
from training.recommendation_pipeline import RecommenderRunResult, RecommenderSpec, run_recommender
from training.settings import TrainingSettings
from training.spec import TrainingSpec
from training.specs import spec_for
from training.split import NotEnoughHistoryError, TimeSplit

DAYS_PER_MONTH = 30.44


def train(
    model_name: str,
    export: CrmExport,
    feature_settings: FeatureSettings,
    training_settings: TrainingSettings,
    on_stage: StageCallback | None = None,
    catalogue: Catalogue | None = None,
) -> RunResult:
    """Train the catalogue's scorer `model_name` (the data home's catalogue unless one is given)."""
    entry = (catalogue or load_catalogue(feature_settings.home)).get(model_name)
    return train_spec(spec_for(entry), export, feature_settings, training_settings, on_stage)


def check_readiness(
    model_name: str,
    export: CrmExport,
    feature_settings: FeatureSettings,
    training_settings: TrainingSettings,
    catalogue: Catalogue | None = None,
) -> ReadinessCheck:
    """What training `model_name` would learn from, and what is short, with nothing fitted."""
    entry = (catalogue or load_catalogue(feature_settings.home)).get(model_name)
    spec = spec_for(entry)
    context = _context(export, feature_settings, training_settings)
    months = None if not isinstance(spec.split, TimeSplit) else history_months(export, context.snapshot_dates)
    try:
        prepared = prepare(spec, context)
    except NotEnoughHistoryError as error:
        words = spec.split.words
        return ReadinessCheck(model_name, entry.population_in_words(), words, months, None, shortfall=str(error))
    return ReadinessCheck(
        model_name,
        entry.population_in_words(),
        prepared.plan.params()["split"],
        months,
        prepared.readiness,
        columns_used=prepared.feature_names,
    )


def backtest_model(
    model_name: str,
    export: CrmExport,
    feature_settings: FeatureSettings,
    training_settings: TrainingSettings,
    catalogue: Catalogue | None = None,
    steps: int = STEPS,
) -> BacktestResult:
    """`model_name` walked forward through its history (`training.backtest`); nothing registered."""
    entry = (catalogue or load_catalogue(feature_settings.home)).get(model_name)
    return backtest(spec_for(entry), _context(export, feature_settings, training_settings), steps)


def history_months(export: CrmExport, snapshot_dates: list[datetime]) -> float | None:
    """Months from the CRM's oldest dated event to its newest snapshot."""
    oldest = dated_events(export)["at"].min()
    if not isinstance(oldest, datetime) or not snapshot_dates:
        return None
    return (max(snapshot_dates) - oldest).days / DAYS_PER_MONTH


def _context(
    export: CrmExport, feature_settings: FeatureSettings, training_settings: TrainingSettings
) -> TrainingContext:
    return TrainingContext(
        export=export,
        store=open_store(feature_settings),
        snapshot_dates=available_snapshot_dates(feature_settings.snapshot_path),
        registry=registry_for(training_settings),
        training_sets_dir=training_settings.training_sets_dir,
    )


def train_spec(
    spec: TrainingSpec,
    export: CrmExport,
    feature_settings: FeatureSettings,
    training_settings: TrainingSettings,
    on_stage: StageCallback | None = None,
) -> RunResult:
    """Run one spec, which may be a variant of a registered one (another seed or scorer set):
    what a data scientist does to compare a change on the same data before proposing it."""
    return run(spec, _context(export, feature_settings, training_settings), on_stage)


def train_recommender(
    model_name: str,
    engine: Engine,
    training_settings: TrainingSettings,
    on_stage: StageCallback | None = None,
    catalogue: Catalogue | None = None,
) -> RecommenderRunResult:
    entry = (catalogue or load_catalogue(training_settings.home)).get(model_name)
    if entry.kind is not ModelKind.RECOMMENDER:
        raise ValueError(f"'{model_name}' is a {entry.kind.value}, not a recommender")
    spec = RecommenderSpec(
        model_name=entry.name, min_improvement=entry.min_improvement, holdout_days=entry.horizon_days
    )
    registry = registry_for(training_settings)
    return run_recommender(spec, engine, registry, training_settings.training_sets_dir, on_stage)


def registry_for(settings: TrainingSettings) -> ModelRegistry:
    """The registry training writes to: the home's tracking URI and artifact folder."""
    return ModelRegistry(settings.tracking_uri, artifact_root=settings.artifact_root)
