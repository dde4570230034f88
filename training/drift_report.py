"""Drift of the population being scored from the champion's training set, feature by feature.

The champion's run records the training-set snapshot it was fitted on; the newest feature
snapshot is the population batch scoring reads. Both hold the same pinned feature columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from features.model_registry import ModelRegistry, VersionRecord
from features.schema import EVENT_TIMESTAMP, FEATURE_NAMES
from models.drift import FeatureDrift, feature_drift


def _columns(frame: pl.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    return {name: frame[name].cast(pl.Float64).fill_null(float("nan")).to_numpy() for name in names}


def _champion(registry: ModelRegistry, model_name: str) -> VersionRecord | None:
    version = registry.champion_version(model_name)
    return None if version is None else registry.version(model_name, version)


def drift_of(champion: VersionRecord, snapshot_path: Path) -> list[FeatureDrift] | None:
    """PSI per feature, or None where there is no training set or snapshot to compare."""
    training_file = champion.data_snapshot
    if training_file is None or not training_file.is_file() or not snapshot_path.exists():
        return None
    training = pl.read_parquet(training_file)
    scan = pl.scan_parquet(snapshot_path)
    newest = scan.select(pl.col(EVENT_TIMESTAMP).max()).collect().item()
    population = scan.filter(pl.col(EVENT_TIMESTAMP) == newest).collect()
    names = [name for name in FEATURE_NAMES if name in training.columns and name in population.columns]
    return feature_drift(_columns(training, names), _columns(population, names))


def champion_drift(registry: ModelRegistry, model_name: str, snapshot_path: Path) -> list[FeatureDrift] | None:
    """The champion's drift, or None where there is no champion to compare."""
    champion = _champion(registry, model_name)
    return None if champion is None else drift_of(champion, snapshot_path)


def log_champion_drift(registry: ModelRegistry, model_name: str, snapshot_path: Path) -> list[FeatureDrift] | None:
    """Compute the drift and record it on the champion's run, so its page shows how far the
    scored population has moved."""
    champion = _champion(registry, model_name)
    drift = None if champion is None else drift_of(champion, snapshot_path)
    if champion is not None and drift is not None:
        registry.log_drift(champion, {d.feature: d.psi for d in drift})
    return drift
