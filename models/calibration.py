"""From raw scores to probabilities that mean what they say, fitted on a later time slice.

A model fitted on older data is calibrated on the slice just after it, so "30%" reflects the
outcome rates of the most recent period the model has not learnt from. The map is monotone:
ranking, and therefore ROC-AUC and the reasons, are the scorer's own.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

import numpy as np
import pandas as pd
from scipy.special import expit
from sklearn.isotonic import IsotonicRegression
from sklearn.linear_model import LogisticRegression

from models.scorers import Contributions, Scorer

CalibrationMethod = Literal["isotonic", "sigmoid"]

# Isotonic regression needs enough of both outcomes to draw a stable staircase; below this
# many of the rarer outcome on the calibration slice, Platt's two-parameter sigmoid is used.
ISOTONIC_MIN_MINORITY = 150


def choose_method(y_calibration: np.ndarray) -> CalibrationMethod:
    labels = np.asarray(y_calibration)
    minority = int(min(labels.sum(), labels.size - labels.sum()))
    return "isotonic" if minority >= ISOTONIC_MIN_MINORITY else "sigmoid"


class Calibrator:
    def __init__(self, method: CalibrationMethod) -> None:
        self.method = method
        self._map: Any = (
            IsotonicRegression(out_of_bounds="clip", y_min=0.0, y_max=1.0)
            if method == "isotonic"
            else LogisticRegression(C=1e6, max_iter=1_000)
        )

    def fit(self, raw: np.ndarray, y: np.ndarray) -> Calibrator:
        if self.method == "isotonic":
            self._map.fit(raw, y)
        else:
            self._map.fit(raw.reshape(-1, 1), y)
        return self

    def probability(self, raw: np.ndarray) -> np.ndarray:
        if self.method == "isotonic":
            return np.asarray(self._map.predict(raw), dtype=np.float64)
        # Platt's sigmoid from the fitted coefficients: what `predict_proba` computes, without
        # its per-call validation (a third of the scoring time for one online contact).
        return np.asarray(expit(raw * self._map.coef_[0, 0] + self._map.intercept_[0]), dtype=np.float64)


@dataclass
class CalibratedModel:
    """A fitted scorer and its calibration: what is registered, served and explained."""

    scorer: Scorer
    calibrator: Calibrator

    @property
    def kind(self) -> str:
        return self.scorer.kind

    @property
    def feature_names(self) -> list[str]:
        return self.scorer.feature_names

    def predict_proba(self, x: pd.DataFrame) -> np.ndarray:
        """Two columns like scikit-learn's, so metrics and callers need no special case."""
        positive = self.calibrator.probability(self.scorer.raw_score(x))
        return np.column_stack([1.0 - positive, positive])

    def raw_score(self, x: pd.DataFrame) -> np.ndarray:
        return self.scorer.raw_score(x)

    def explain(self, x: pd.DataFrame) -> tuple[np.ndarray, Contributions]:
        """Each row's probability and the contributions behind it, from one pass of the scorer:
        a scorer's contributions add up to its raw score, so serving, which needs both, need
        not score twice."""
        contributions = self.scorer.contributions(x)
        return self.calibrator.probability(contributions.raw_score()), contributions

    def contributions(self, x: pd.DataFrame) -> Contributions:
        return self.scorer.contributions(x)


def calibrate(scorer: Scorer, x_calibration: pd.DataFrame, y_calibration: np.ndarray) -> CalibratedModel:
    labels = np.asarray(y_calibration)
    calibrator = Calibrator(choose_method(labels)).fit(scorer.raw_score(x_calibration), labels)
    return CalibratedModel(scorer=scorer, calibrator=calibrator)
