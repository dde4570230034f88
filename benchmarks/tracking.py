"""MLflow overhead per training run: everything the tracker adds to a run, timed apart from the
fit. That is the champion lookup and load for the comparison, params, a batch of metrics, the
holdout curves, the model logged with its signature and explicit requirements, registered,
sealed with its sha256, then the verdict tags and the alias.

The first run in a new home also creates MLflow's database; it is reported apart (`extra`),
the figure is the median of the runs after it.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

import lightgbm
import numpy as np
import pandas as pd

from benchmarks.results import Figure
from features.model_registry import ModelRegistry, RunRecord
from features.schema import FEATURE_NAMES
from models.calibration import CalibratedModel, calibrate
from models.curves import CURVES_ARTIFACT, holdout_curves
from models.metrics import binary_metrics
from models.scorers import LightGbmScorer
from training.promotion import decide
from training.settings import TrainingSettings

MODEL = "bench_churn"
ROWS = 20_000


def _labelled_rows(rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Feature rows whose outcome follows the first two features, with noise."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame(rng.normal(size=(rows, len(FEATURE_NAMES))), columns=list(FEATURE_NAMES))
    y = ((x.iloc[:, 0] + x.iloc[:, 1] + rng.normal(size=rows)) > 1.5).astype(int).to_numpy()
    return x, y


def _model_and_holdout(seed: int = 0) -> tuple[CalibratedModel, pd.DataFrame, np.ndarray]:
    x, y = _labelled_rows(ROWS, seed)
    fit, calibration, holdout = slice(0, 12_000), slice(12_000, 16_000), slice(16_000, ROWS)
    scorer = LightGbmScorer(seed=seed).fit(x.iloc[fit], y[fit])
    return calibrate(scorer, x.iloc[calibration], y[calibration]), x.iloc[holdout], y[holdout]


def _one_run(registry: ModelRegistry, model: CalibratedModel, x_holdout: pd.DataFrame, y_holdout: np.ndarray) -> float:
    scores = model.predict_proba(x_holdout)[:, 1]
    metrics = binary_metrics(y_holdout, scores)
    curves = holdout_curves(model, x_holdout, y_holdout, scores)
    began = time.perf_counter()
    champion_version = registry.champion_version(MODEL)
    champion_metric = None
    if champion_version is not None:
        champion = registry.load(MODEL, champion_version, CalibratedModel)
        champion_metric = binary_metrics(y_holdout, champion.predict_proba(x_holdout)[:, 1])["roc_auc"]
    decision = decide(metric="roc_auc", candidate=metrics["roc_auc"], champion=champion_metric, min_improvement=-1)
    run = RunRecord(
        model_name=MODEL,
        requirements=[f"lightgbm=={lightgbm.__version__}"],
        params={"seed": 0, "rows": ROWS, "features": len(FEATURE_NAMES)},
        holdout_metrics=metrics,
        other_metrics={},
        champion=None if champion_metric is None else (str(champion_version), "roc_auc", champion_metric),
        data_snapshot=Path("benchmark-rows"),
        promotion_reason=decision.reason,
    )
    logged = registry.log_scorer_run(run, model, x_holdout.head(50), documents={CURVES_ARTIFACT: curves})
    registry.record_verdict(MODEL, logged.version, promote=decision.promote, reason=decision.reason)
    return time.perf_counter() - began


def curves_seconds(model: CalibratedModel, rows: int, seed: int = 1) -> float:
    """The curves a training run logs, timed on a holdout of `rows`: not MLflow's cost but the
    step before it, which at a million contacts took minutes while importance was computed on
    every holdout row. The holdout is scored first, as the pipeline does for its metrics."""
    x, y = _labelled_rows(rows, seed)
    scores = model.predict_proba(x)[:, 1]
    began = time.perf_counter()
    holdout_curves(model, x, y, scores)
    return time.perf_counter() - began


def run(home: Path, curves_rows: int, runs: int = 5) -> list[Figure]:
    model, x_holdout, y_holdout = _model_and_holdout()
    settings = TrainingSettings(home=home)
    registry = ModelRegistry(settings.tracking_uri, artifact_root=settings.artifact_root)
    seconds = [_one_run(registry, model, x_holdout, y_holdout) for _ in range(runs)]
    steady = statistics.median(seconds[1:])
    return [
        Figure(
            "mlflow_overhead_per_training_run",
            steady,
            None,
            "s",
            1,
            better="lower",
            target_is_ratio=False,
            note=(
                f"median of {runs - 1} runs after the first (champion load, params, metrics, curves, "
                "model logged, registered, sealed, verdict, alias); SQLite backend"
            ),
            extra={
                "first_run_seconds": seconds[0],
                "slowest_seconds": max(seconds[1:]),
                "holdout_rows_for_curves": float(curves_rows),
                "holdout_curves_seconds": curves_seconds(model, curves_rows),
            },
        )
    ]
