"""The graduated path from few labels to many: rules, then logistic regression, then LightGBM.

Which scorers may be tried depends on how many of the rarer outcome the training slice holds;
below the minimum there is no model, and callers say "insufficient data" instead of showing a
made-up score. Where more than one kind is allowed, each is fitted on the training slice and
the one ranking the (later) calibration slice best is kept, then calibrated on that slice.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from models.calibration import CalibratedModel, calibrate
from models.scorers import LightGbmScorer, LogisticScorer, RateTableScorer, Scorer

SCORER_FACTORIES: dict[str, Callable[[int], Scorer]] = {
    "rules": RateTableScorer,
    "logistic": LogisticScorer,
    "lightgbm": LightGbmScorer,
}


@dataclass(frozen=True)
class DataMinimums:
    """Label counts (of the rarer outcome) each step of the path needs."""

    min_rows: int = 100
    min_minority: int = 20
    min_calibration_minority: int = 10
    logistic_from: int = 100
    lightgbm_from: int = 400

    def kinds_allowed(self, minority: int) -> list[str]:
        if minority >= self.lightgbm_from:
            return ["logistic", "lightgbm"]
        if minority >= self.logistic_from:
            return ["logistic"]
        return ["rules"]


@dataclass(frozen=True)
class LabelCounts:
    rows: int
    positives: int

    @property
    def minority(self) -> int:
        return min(self.positives, self.rows - self.positives)

    @classmethod
    def of(cls, labels: np.ndarray) -> LabelCounts:
        values = np.asarray(labels)
        return cls(rows=int(values.size), positives=int(values.sum()))


class InsufficientDataError(ValueError):
    """Too few labelled outcomes to fit a model worth showing; says how many and how many needed."""

    def __init__(self, where: str, counts: LabelCounts, needed: str) -> None:
        super().__init__(
            f"insufficient data in the {where} slice: {counts.rows} rows, {counts.positives} positive, "
            f"{counts.rows - counts.positives} negative; needs {needed}"
        )
        self.where = where
        self.counts = counts


def check_minimums(train: LabelCounts, calibration: LabelCounts, minimums: DataMinimums) -> None:
    if train.rows < minimums.min_rows or train.minority < minimums.min_minority:
        raise InsufficientDataError(
            "training", train, f"{minimums.min_rows} rows and {minimums.min_minority} of each outcome"
        )
    if calibration.minority < minimums.min_calibration_minority:
        raise InsufficientDataError("calibration", calibration, f"{minimums.min_calibration_minority} of each outcome")


@dataclass
class GraduatedFit:
    model: CalibratedModel
    candidate_auc: dict[str, float] = field(default_factory=dict)
    # Every scorer fitted, uncalibrated: the run judges each on the holdout too, so the chosen
    # one is reported beside the simpler ones it beat (a logistic regression above all).
    candidates: dict[str, Scorer] = field(default_factory=dict)

    @property
    def chosen(self) -> str:
        return self.model.kind


def fit_graduated(
    x_train: pd.DataFrame,
    y_train: np.ndarray,
    x_calibration: pd.DataFrame,
    y_calibration: np.ndarray,
    *,
    minimums: DataMinimums,
    seed: int,
    kinds: list[str] | None = None,
    factories: Mapping[str, Callable[[int], Scorer]] = SCORER_FACTORIES,
) -> GraduatedFit:
    """Fit the allowed scorers (or `kinds`, still bounded by the minimums), keep the best on the
    calibration slice, calibrate it there. Raises InsufficientDataError below the minimums."""
    train_counts, calibration_counts = LabelCounts.of(y_train), LabelCounts.of(y_calibration)
    check_minimums(train_counts, calibration_counts, minimums)
    allowed = minimums.kinds_allowed(train_counts.minority)
    candidates = [kind for kind in (kinds or allowed) if kind in allowed] or allowed[:1]
    fitted: dict[str, Scorer] = {}
    auc: dict[str, float] = {}
    for kind in candidates:
        scorer = factories[kind](seed).fit(x_train, y_train)
        fitted[kind] = scorer
        auc[kind] = float(roc_auc_score(y_calibration, scorer.raw_score(x_calibration)))
    best = max(candidates, key=lambda kind: auc[kind])
    return GraduatedFit(
        model=calibrate(fitted[best], x_calibration, y_calibration), candidate_auc=auc, candidates=fitted
    )
