"""Drift of the population being scored from the champion's training set, feature by feature.

The champion's run records the training-set snapshot it was fitted on; the model's population
in the newest feature snapshot is what batch scoring reads (contacts outside it are given a
reason, not a score, so they are no drift). Both hold the same pinned feature columns.
"""

from __future__ import annotations

import numpy as np
import polars as pl

from features.catalogue import ModelEntry
from features.model_registry import ModelRegistry, VersionRecord
from features.populations import PopulationUnknownError, newest_population
from features.schema import FEATURE_NAMES
from features.settings import FeatureSettings
from models.drift import FeatureDrift, feature_drift


def _columns(frame: pl.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    return {name: frame[name].cast(pl.Float64).fill_null(float("nan")).to_numpy() for name in names}


def _champion(registry: ModelRegistry, model_name: str) -> VersionRecord | None:
    version = registry.champion_version(model_name)
    return None if version is None else registry.version(model_name, version)


def drift_of(champion: VersionRecord, entry: ModelEntry, settings: FeatureSettings) -> list[FeatureDrift] | None:
    """PSI per feature, or None where there is no training set, snapshot or population to compare."""
    training_file = champion.data_snapshot
    if training_file is None or not training_file.is_file() or not settings.snapshot_path.exists():
        return None
    training = pl.read_parquet(training_file)
    try:
        population = newest_population(settings.snapshot_path, settings.population_path, entry).members
    except PopulationUnknownError:
        return None
    names = [name for name in FEATURE_NAMES if name in training.columns and name in population.columns]
    return feature_drift(_columns(training, names), _columns(population, names))


def champion_drift(registry: ModelRegistry, entry: ModelEntry, settings: FeatureSettings) -> list[FeatureDrift] | None:
    """The champion's drift, or None where there is no champion to compare."""
    champion = _champion(registry, entry.name)
    return None if champion is None else drift_of(champion, entry, settings)


def log_champion_drift(
    registry: ModelRegistry, entry: ModelEntry, settings: FeatureSettings
) -> list[FeatureDrift] | None:
    """Compute the drift and record it on the champion's run, so its page shows how far the
    scored population has moved."""
    champion = _champion(registry, entry.name)
    drift = None if champion is None else drift_of(champion, entry, settings)
    if champion is not None and drift is not None:
        registry.log_drift(champion, {d.feature: d.psi for d in drift})
    return drift
