"""Walking a model forward through its own history: before each step of the newest fifth of its
rows, the model is fitted again (same spec, same graduated path, same calibration) on everything
known before that step, and judged on the step. This is what a model retrained as data arrives
would have scored, where `train` judges one model fitted once on the older rows; when the world
moves (a campaign's later months convert six times as often as its first), the two differ, and
both are worth knowing before choosing how often to retrain.

By time for a dated history: each of the newest labelled snapshots is a step, fitted on the
snapshots a horizon older and calibrated on the newest of them. In record order for a list
written as things happened: the newest fifth of the records in equal steps, each fitted on the
records before it, the newest quarter of those calibrating. A list split at random has no order
to walk, and is refused.
"""

from __future__ import annotations

import itertools
from dataclasses import asdict, dataclass
from datetime import timedelta

import numpy as np
import polars as pl

from crm_core.errors import CrmError
from features.model_input import to_model_input
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP, custom_field_of, is_custom
from features.store import service_feature_names
from models.graduated import InsufficientDataError, fit_graduated
from models.metrics import binary_metrics
from training.labels import LABEL
from training.leakage import leaky_fields
from training.pipeline import TrainingContext, labelled_rows
from training.spec import TrainingSpec
from training.split import RecordOrderSplit, TimeSplit

STEPS = 10
HOLDOUT_SHARE = 0.2  # the newest share of the records a record-order walk judges
CALIBRATION_SHARE = 0.25  # of the records before a step


class BacktestError(CrmError, ValueError):
    """The model cannot be walked forward: why."""


@dataclass(frozen=True)
class Step:
    name: str
    fit: pl.DataFrame
    calibration: pl.DataFrame
    judged: pl.DataFrame


@dataclass(frozen=True)
class StepResult:
    name: str
    fit_rows: int
    judged_rows: int
    positives: int
    scorer: str | None  # None: the step could not be fitted (`skipped` says why)
    roc_auc: float | None
    skipped: str | None = None


@dataclass(frozen=True)
class BacktestResult:
    model_name: str
    walk: str  # how the steps were laid out, in words
    steps: list[StepResult]
    pooled: dict[str, float]  # over every judged row of every fitted step

    def as_json(self) -> dict[str, object]:
        return asdict(self)


def record_order_steps(rows: pl.DataFrame, steps: int = STEPS) -> list[Step]:
    ordered = rows.sort(ENTITY_KEY)
    total = ordered.height
    first = total - round(total * HOLDOUT_SHARE)
    bounds = [first + round(k * (total - first) / steps) for k in range(steps + 1)]
    walked = []
    for start, end in itertools.pairwise(bounds):
        calibration_from = start - round(start * CALIBRATION_SHARE)
        walked.append(
            Step(
                f"records {start + 1:,}-{end:,}",
                ordered[:calibration_from],
                ordered[calibration_from:start],
                ordered[start:end],
            )
        )
    return walked


def time_steps(rows: pl.DataFrame, horizon_days: int, steps: int = STEPS) -> list[Step]:
    horizon = timedelta(days=horizon_days)
    dates = sorted(rows[EVENT_TIMESTAMP].unique().to_list())
    walked = []
    for judged in dates[-steps:]:
        known = [date for date in dates if date + horizon <= judged]
        fit = [date for date in known if known and date + horizon <= known[-1]]
        if not fit:
            continue
        walked.append(
            Step(
                f"{judged:%Y-%m-%d}",
                rows.filter(pl.col(EVENT_TIMESTAMP).is_in(fit)),
                rows.filter(pl.col(EVENT_TIMESTAMP) == known[-1]),
                rows.filter(pl.col(EVENT_TIMESTAMP) == judged),
            )
        )
    return walked


def walk(spec: TrainingSpec, context: TrainingContext, steps: int = STEPS) -> tuple[str, list[Step]]:
    """The steps of the spec's history, and how they were laid out in words."""
    if isinstance(spec.split, TimeSplit):
        end = max(context.snapshot_dates, default=None)
        horizon = timedelta(days=spec.split.horizon_days)
        dates = [date for date in context.snapshot_dates if end is not None and date + horizon <= end]
        laid = time_steps(labelled_rows(spec, context, dates), spec.split.horizon_days, steps)
        if not laid:
            raise BacktestError(f"no snapshot has {3 * spec.split.horizon_days} days of history before it to walk from")
        return f"by time: each of the newest {len(laid)} snapshots, fitted on those a horizon older", laid
    if isinstance(spec.split, RecordOrderSplit):
        plan = spec.split.plan(context.snapshot_dates)
        laid = record_order_steps(labelled_rows(spec, context, plan.label_dates), steps)
        return (
            f"in record order: the newest {HOLDOUT_SHARE:.0%} in {steps} steps, each fitted on the records before it",
            laid,
        )
    raise BacktestError(
        f"'{spec.model_name}' is split at random (a list with no dates and no order): there is no future to walk into"
    )


def backtest(spec: TrainingSpec, context: TrainingContext, steps: int = STEPS) -> BacktestResult:
    words, laid = walk(spec, context, steps)
    feature_names = service_feature_names(context.store, spec.feature_service)
    leaked = {leaky.field for leaky in leaky_fields(laid[0].fit, LABEL, feature_names)}
    feature_names = [name for name in feature_names if not (is_custom(name) and custom_field_of(name) in leaked)]
    results: list[StepResult] = []
    truths: list[np.ndarray] = []
    scores: list[np.ndarray] = []
    for step in laid:
        judged = step.judged[LABEL].to_numpy()
        try:
            fitted = fit_graduated(
                to_model_input(step.fit, feature_names),
                step.fit[LABEL].to_numpy(),
                to_model_input(step.calibration, feature_names),
                step.calibration[LABEL].to_numpy(),
                minimums=spec.minimums,
                seed=spec.seed,
                kinds=list(spec.scorers),
                factories=spec.scorers,
            )
        except InsufficientDataError as error:
            results.append(
                StepResult(step.name, step.fit.height, step.judged.height, int(judged.sum()), None, None, str(error))
            )
            continue
        probability = fitted.model.predict_proba(to_model_input(step.judged, feature_names))[:, 1]
        truths.append(judged)
        scores.append(probability)
        auc = binary_metrics(judged, probability)["roc_auc"] if len(np.unique(judged)) == 2 else None
        results.append(
            StepResult(step.name, step.fit.height, step.judged.height, int(judged.sum()), fitted.chosen, auc)
        )
    if not truths:
        raise BacktestError(
            "no step had enough labelled outcomes to fit: " + "; ".join(r.skipped or "" for r in results)
        )
    pooled = binary_metrics(np.concatenate(truths), np.concatenate(scores))
    return BacktestResult(spec.model_name, words, results, pooled)
