"""Running every evaluation: import each data set into a scratch CRM through the importers,
read it back out, and judge our models and their baselines on a held-out slice."""

from __future__ import annotations

import shutil
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score
from sqlalchemy import Engine

from crm_core.datasets.registry import import_dataset
from crm_core.errors import CrmError
from models.graduated import DataMinimums, fit_graduated
from models.metrics import binary_metrics, reliability_table
from models.scorers import LogisticScorer
from training.evaluation.encoding import CategoryEncoder
from training.evaluation.scoring_cases import SCORING_CASES, LabelledSet, ScoringCase, Target
from training.evaluation.splits import AT, LABEL, Slices, stratified_folds, walk_forward

StageCallback = Callable[[str], None]
OpenScratch = Callable[[Path], Engine]
CASE_KEYS = tuple(case.key for case in SCORING_CASES)
PRODUCT_PATH = "product"


class LeakageError(CrmError, ValueError):
    """A case offered a column known only after the outcome as a feature."""


@dataclass(frozen=True)
class TargetCheck:
    metric: str
    value: float
    target: str
    met: bool
    reference: str


@dataclass
class ScoringResult:
    key: str
    title: str
    split: str
    population: str
    rows: dict[str, int]
    positive_rate: dict[str, float]
    holdout_period: tuple[str, str] | None
    model: str
    calibration: str
    candidate_auc: dict[str, float]
    logistic_baseline_auc: float
    metrics: dict[str, float]
    reliability: list[dict[str, float]]
    fit_seconds: float
    features: list[str]
    excluded: list[str]
    random_split_roc_auc: float | None = None
    checks: list[TargetCheck] = field(default_factory=list)
    # "product": imported, built and trained by the commands a user runs (features are then the
    # custom fields the model takes, `input_columns` the columns they became); "evaluation
    # code": fitted here from the CRM's tables.
    path: str = "evaluation code"
    input_columns: int | None = None
    # The product path's `models backtest` figures (how the steps were laid, then the metrics
    # over every judged row), where the case walks its model forward.
    walked_forward: dict[str, Any] | None = None


@dataclass
class RecommendationResult:
    """The recommender's run as `train recommend` made it: the candidate and the baselines the
    promotion gate compares it with, judged on the same held-out purchases."""

    key: str
    holdout: str  # what was held out, in words
    users: int
    history_purchases: int
    mode: str  # how the blend fills lists, chosen on a validation slice of the history
    validation: dict[str, float]  # each way's precision@10 on that slice
    metrics: dict[str, dict[str, float]]  # "blend" and each baseline
    verdict: str  # the promotion gate's
    fit_seconds: float
    checks: list[TargetCheck] = field(default_factory=list)
    path: str = PRODUCT_PATH


@dataclass
class EvaluationReport:
    seed: int
    scoring: list[ScoringResult]
    recommendation: RecommendationResult | None
    import_seconds: dict[str, float]


def assert_no_outcome_features(labelled: LabelledSet) -> None:
    leaked = sorted(set(labelled.feature_columns) & set(labelled.outcome_columns))
    if leaked:
        raise LeakageError(f"columns known only after the outcome offered as features: {leaked}")


def folds(labelled: LabelledSet, seed: int) -> list[Slices]:
    if labelled.split == "time":
        return list(walk_forward(labelled.frame))
    return stratified_folds(labelled.frame, seed)


@dataclass
class _FoldOutput:
    probability: np.ndarray
    labels: np.ndarray
    baseline_raw: np.ndarray
    chosen: str
    calibration: str
    candidate_auc: dict[str, float]
    features: list[str]


def _fit_fold(labelled: LabelledSet, fold: Slices, seed: int) -> _FoldOutput:
    encoder = CategoryEncoder().fit(fold.train, labelled.feature_columns)
    x_train, x_calibration, x_holdout = (
        encoder.transform(part) for part in (fold.train, fold.calibration, fold.holdout)
    )
    y_train, y_calibration = fold.train[LABEL].to_numpy(), fold.calibration[LABEL].to_numpy()
    fit = fit_graduated(x_train, y_train, x_calibration, y_calibration, minimums=DataMinimums(), seed=seed)
    return _FoldOutput(
        probability=fit.model.predict_proba(x_holdout)[:, 1],
        labels=fold.holdout[LABEL].to_numpy(),
        baseline_raw=LogisticScorer(seed).fit(x_train, y_train).raw_score(x_holdout),
        chosen=fit.chosen,
        calibration=fit.model.calibrator.method,
        candidate_auc=fit.candidate_auc,
        features=encoder.feature_names,
    )


def evaluate_scoring(case: ScoringCase, labelled: LabelledSet, seed: int) -> ScoringResult:
    """Fit, calibrate and score every fold; metrics over all held-out rows together."""
    assert_no_outcome_features(labelled)
    started = time.perf_counter()
    splits = folds(labelled, seed)
    outputs = [_fit_fold(labelled, fold, seed) for fold in splits]
    fit_seconds = time.perf_counter() - started
    labels = np.concatenate([out.labels for out in outputs])
    probability = np.concatenate([out.probability for out in outputs])
    metrics = binary_metrics(labels, probability)
    holdout_times = pl.concat([fold.holdout for fold in splits])[AT]
    first = splits[0]
    random_auc = None
    if labelled.split == "time":
        # For comparison only: what a random split would claim on the same rows and features.
        shuffled = [_fit_fold(labelled, fold, seed) for fold in stratified_folds(labelled.frame, seed)]
        random_auc = float(
            roc_auc_score(
                np.concatenate([out.labels for out in shuffled]),
                np.concatenate([out.probability for out in shuffled]),
            )
        )
    return ScoringResult(
        key=case.key,
        title=case.title,
        split=f"time, walk-forward over {len(splits)} months"
        if first.kind == "time"
        else f"stratified {len(splits)}-fold (3 parts train, 1 calibrates, 1 scored)",
        population=labelled.population,
        rows={
            "first_fit_train": first.train.height,
            "first_fit_calibration": first.calibration.height,
            "holdout": len(labels),
        },
        positive_rate={
            "first_fit_train": float(np.mean(first.train[LABEL].to_numpy())),
            "holdout": float(labels.mean()),
        },
        holdout_period=_period(holdout_times) if first.kind == "time" else None,
        model=", ".join(f"{kind} x{count}" for kind, count in Counter(out.chosen for out in outputs).most_common()),
        calibration=", ".join(sorted({out.calibration for out in outputs})),
        candidate_auc={
            kind: float(np.mean([out.candidate_auc[kind] for out in outputs if kind in out.candidate_auc]))
            for kind in sorted({kind for out in outputs for kind in out.candidate_auc})
        },
        logistic_baseline_auc=float(roc_auc_score(labels, np.concatenate([out.baseline_raw for out in outputs]))),
        metrics=metrics,
        reliability=reliability_table(labels, probability),
        fit_seconds=fit_seconds,
        features=outputs[-1].features,
        excluded=list(labelled.outcome_columns),
        random_split_roc_auc=random_auc,
        checks=[_check(target, metrics[target.metric]) for target in case.targets],
    )


def _period(times: pl.Series) -> tuple[str, str]:
    first, last = times.min(), times.max()
    assert isinstance(first, datetime) and isinstance(last, datetime)
    return f"{first:%Y-%m-%d}", f"{last:%Y-%m-%d}"


def _check(target: Target, value: float) -> TargetCheck:
    return TargetCheck(target.metric, value, target.describe(), target.met(value), target.reference)


def _scratch(open_scratch: OpenScratch, work_dir: Path, dataset: str) -> Engine:
    home = work_dir / dataset
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    return open_scratch(home)


def evaluate(
    data_dir: Path,
    work_dir: Path,
    open_scratch: OpenScratch,
    *,
    seed: int = 42,
    only: set[str] | None = None,
    on_stage: StageCallback | None = None,
) -> EvaluationReport:
    """Every case (or those named in `only`), each on a fresh scratch CRM under `work_dir`."""
    stage = on_stage or (lambda _name: None)
    report = EvaluationReport(seed=seed, scoring=[], recommendation=None, import_seconds={})
    engines: dict[str, Engine] = {}

    def crm_with(dataset: str) -> Engine:
        if dataset not in engines:
            stage(f"import {dataset} through the CRM importers")
            started = time.perf_counter()
            engines[dataset] = _scratch(open_scratch, work_dir, dataset)
            import_dataset(engines[dataset], dataset, data_dir)
            report.import_seconds[dataset] = time.perf_counter() - started
        return engines[dataset]

    try:
        for case in SCORING_CASES:
            if only is not None and case.key not in only:
                continue
            engine = crm_with(case.dataset)
            stage(f"{case.title}: labels, split, fit, calibrate")
            report.scoring.append(evaluate_scoring(case, case.build(engine), seed))
    finally:
        for engine in engines.values():
            engine.dispose()
    return report


def summary_json(report: EvaluationReport) -> dict[str, Any]:
    """The figures as `evaluation.json` holds them: headline metrics first, details beside."""
    out: dict[str, Any] = {}
    for result in report.scoring:
        out[result.key] = {
            "roc_auc": result.metrics["roc_auc"],
            "ece": result.metrics["ece"],
            "pr_auc": result.metrics["pr_auc"],
            "brier": result.metrics["brier"],
            "logistic_baseline_roc_auc": result.logistic_baseline_auc,
            "random_split_roc_auc_for_comparison": result.random_split_roc_auc,
            "model": result.model,
            "calibration": result.calibration,
            "split": result.split,
            "path": result.path,
            "walked_forward": result.walked_forward,
            "rows": result.rows,
            "fit_seconds": result.fit_seconds,
            "targets": {check.metric: {"target": check.target, "met": check.met} for check in result.checks},
        }
    if report.recommendation is not None:
        rec = report.recommendation
        out[rec.key] = {
            "precision_at_10": rec.metrics["blend"]["precision_at_10"],
            "buy_again_precision_at_10": rec.metrics["buy_again"]["precision_at_10"],
            "popularity_precision_at_10": rec.metrics["popularity"]["precision_at_10"],
            "capped_precision_at_10": rec.metrics["blend"]["capped_precision_at_10"],
            "buy_again_capped_precision_at_10": rec.metrics["buy_again"]["capped_precision_at_10"],
            "recommenders": rec.metrics,
            "holdout": rec.holdout,
            "mode": rec.mode,
            "validation_precision_at_10": rec.validation,
            "verdict": rec.verdict,
            "path": rec.path,
            "fit_seconds": rec.fit_seconds,
            "users": rec.users,
            "targets": {check.metric: {"target": check.target, "met": check.met} for check in rec.checks},
        }
    for figures in out.values():
        figures["seed"] = report.seed
    return out
