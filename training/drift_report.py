"""Drift of the population being scored from the champion's training set, feature by feature.

The champion's run records the training-set snapshot it was fitted on; the model's population
in the newest feature snapshot is what batch scoring reads (contacts outside it are given a
reason, not a score, so they are no drift). Both hold the same pinned feature columns.

The reference is the training set's newest snapshot, not every snapshot pooled: the same
population rule at the nearest age. Pooled, features that grow by construction (tenure, days
since, yearly counts of a growing customer base) were a year older than the population scored
and raised an alarm on every fresh install that was only the calendar. What such a feature
still moves between that snapshot and now is measured against what it moved over the same span
anywhere inside the training history (`FeatureDrift.span_psi`): no more than that is the
calendar, which the model has seen, and raises no alert.
"""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from features.catalogue import ModelEntry
from features.model_registry import ModelRegistry, VersionRecord
from features.populations import PopulationUnknownError, newest_population
from features.schema import EVENT_TIMESTAMP, FEATURE_NAMES, GROWS_WITH_TIME
from features.settings import FeatureSettings
from models.drift import FeatureDrift, feature_drift, worst_real_drift


def _columns(frame: pl.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    return {name: frame[name].cast(pl.Float64).fill_null(float("nan")).to_numpy() for name in names}


def _champion(registry: ModelRegistry, model_name: str) -> VersionRecord | None:
    version = registry.champion_version(model_name)
    return None if version is None else registry.version(model_name, version)


def newest_snapshot(training: pl.DataFrame) -> pl.DataFrame:
    """The training set's rows at its newest date (a snapshot history has only the one)."""
    if EVENT_TIMESTAMP not in training.columns or training.is_empty():
        return training
    return training.filter(pl.col(EVENT_TIMESTAMP) == training[EVENT_TIMESTAMP].max())


def drift_of(champion: VersionRecord, population: pl.DataFrame) -> list[FeatureDrift] | None:
    """PSI per feature of `population` (the rows batch scoring reads) against the newest
    snapshot of the champion's training set, or None where there is no training set to compare."""
    training_file = champion.data_snapshot
    if training_file is None or not training_file.is_file():
        return None
    training = pl.read_parquet(training_file)
    reference = newest_snapshot(training)
    names = [name for name in FEATURE_NAMES if name in training.columns and name in population.columns]
    spans = span_moves(training, population, names)
    return feature_drift(_columns(reference, names), _columns(population, names), spans, GROWS_WITH_TIME)


def span_moves(training: pl.DataFrame, population: pl.DataFrame, names: list[str]) -> dict[str, float]:
    """Per feature, the most it moved (PSI) between any two snapshots of the training history as
    far apart as its newest is from the population scored: how far the calendar alone has moved
    it while the model's history was written. Empty where the history holds no such span."""
    if EVENT_TIMESTAMP not in training.columns or EVENT_TIMESTAMP not in population.columns or population.is_empty():
        return {}
    dates = sorted(training[EVENT_TIMESTAMP].unique().to_list())
    scored_at = population[EVENT_TIMESTAMP].max()
    if not isinstance(scored_at, datetime) or scored_at <= dates[-1]:
        return {}
    gap = scored_at - dates[-1]
    moves: dict[str, float] = {}
    for later in dates:
        earlier = [date for date in dates if date <= later - gap]
        if not earlier:
            continue
        before, after = (training.filter(pl.col(EVENT_TIMESTAMP) == date) for date in (earlier[-1], later))
        for drift in feature_drift(_columns(before, names), _columns(after, names)):
            moves[drift.feature] = max(moves.get(drift.feature, 0.0), drift.psi)
    return moves


def scored_population(entry: ModelEntry, settings: FeatureSettings) -> pl.DataFrame | None:
    """The rows batch scoring reads for `entry` now, or None before features and populations are built."""
    if not settings.snapshot_path.exists():
        return None
    try:
        return newest_population(settings.snapshot_path, settings.population_path, entry).members
    except PopulationUnknownError:
        return None


def champion_drift(registry: ModelRegistry, entry: ModelEntry, settings: FeatureSettings) -> list[FeatureDrift] | None:
    """The champion's drift, or None where there is no champion or population to compare."""
    champion = _champion(registry, entry.name)
    population = None if champion is None else scored_population(entry, settings)
    return None if champion is None or population is None else drift_of(champion, population)


def log_champion_drift(registry: ModelRegistry, model_name: str, population: pl.DataFrame) -> list[FeatureDrift] | None:
    """Compute the drift of the population just scored and record it on the champion's run, so
    its page shows how far the scored population has moved."""
    champion = _champion(registry, model_name)
    drift = None if champion is None else drift_of(champion, population)
    if champion is not None and drift is not None:
        worst = worst_real_drift(drift)
        registry.log_drift(
            champion,
            {d.feature: d.psi for d in drift},
            span_psi={d.feature: d.span_psi for d in drift},
            worst=0.0 if worst is None else worst.psi,
        )
    return drift
