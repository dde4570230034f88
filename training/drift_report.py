"""Drift of the population being scored from the champion's training set, feature by feature.

The champion's run records the training-set snapshot it was fitted on; the newest feature
snapshot is the population batch scoring reads. Both hold the same pinned feature columns.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import polars as pl

from features.schema import EVENT_TIMESTAMP, FEATURE_NAMES
from models.drift import FeatureDrift, feature_drift
from training.tracking import Tracker


def _columns(frame: pl.DataFrame, names: list[str]) -> dict[str, np.ndarray]:
    return {name: frame[name].cast(pl.Float64).fill_null(float("nan")).to_numpy() for name in names}


def champion_drift(tracker: Tracker, model_name: str, snapshot_path: Path) -> list[FeatureDrift] | None:
    """PSI per feature, or None where there is no champion, training set or snapshot to compare."""
    version = tracker.champion_version(model_name)
    if version is None or not snapshot_path.exists():
        return None
    run_id = tracker.client.get_model_version(model_name, version).run_id
    if run_id is None:
        return None
    training_file = Path(tracker.client.get_run(run_id).data.tags.get("data_snapshot", ""))
    if not training_file.is_file():
        return None
    training = pl.read_parquet(training_file)
    scan = pl.scan_parquet(snapshot_path)
    newest = scan.select(pl.col(EVENT_TIMESTAMP).max()).collect().item()
    population = scan.filter(pl.col(EVENT_TIMESTAMP) == newest).collect()
    names = [name for name in FEATURE_NAMES if name in training.columns and name in population.columns]
    return feature_drift(_columns(training, names), _columns(population, names))


def log_champion_drift(tracker: Tracker, model_name: str, snapshot_path: Path) -> list[FeatureDrift] | None:
    """Compute the drift and record it on the champion's MLflow run (one metric per feature,
    stepped by time), so the run page shows how far the scored population has moved."""
    import time

    from mlflow.entities import Metric

    drift = champion_drift(tracker, model_name, snapshot_path)
    version = tracker.champion_version(model_name)
    if drift is None or version is None:
        return drift
    run_id = tracker.client.get_model_version(model_name, version).run_id
    now_ms = int(time.time() * 1000)
    metrics = [Metric(f"drift_psi_{d.feature}", d.psi, now_ms, now_ms // 1000) for d in drift]
    metrics.append(Metric("drift_psi_max", max((d.psi for d in drift), default=0.0), now_ms, now_ms // 1000))
    tracker.client.log_batch(str(run_id), metrics=metrics)
    return drift
