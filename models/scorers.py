"""Binary scorers that explain themselves: each gives a raw score (log-odds) and per-feature
contributions that, added to a per-row base value, equal that raw score exactly.

Three kinds, for the graduated path from little data to plenty: a rate table on the single
most telling feature, a regularised logistic regression, and LightGBM. Calibration to
probabilities happens outside them (`models.calibration`), so reasons always speak in the
units the model actually adds up.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from models.estimators import lightgbm_classifier


@dataclass(frozen=True)
class Contributions:
    """`values[i, j]`: how much feature j moved row i's raw score; `base[i]`: where it started."""

    values: np.ndarray
    base: np.ndarray
    feature_names: list[str]

    def raw_score(self) -> np.ndarray:
        return np.asarray(self.values.sum(axis=1) + self.base)


class Scorer(Protocol):
    kind: str
    feature_names: list[str]

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> Scorer: ...

    def raw_score(self, x: pd.DataFrame) -> np.ndarray: ...

    def contributions(self, x: pd.DataFrame) -> Contributions: ...


def logit(p: np.ndarray | float) -> Any:
    clipped = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(clipped / (1 - clipped))


class LightGbmScorer:
    """Gradient-boosted trees; contributions are LightGBM's exact TreeSHAP values."""

    kind = "lightgbm"

    def __init__(self, seed: int) -> None:
        self.model: LGBMClassifier = lightgbm_classifier(seed)
        self.feature_names: list[str] = []

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> LightGbmScorer:
        self.feature_names = list(x.columns)
        self.model.fit(x, y)
        return self

    def raw_score(self, x: pd.DataFrame) -> np.ndarray:
        return np.asarray(self.model.predict(x, raw_score=True), dtype=np.float64)

    def contributions(self, x: pd.DataFrame) -> Contributions:
        return tree_contributions(self.model, x)


def tree_contributions(model: LGBMClassifier, x: pd.DataFrame) -> Contributions:
    """LightGBM's exact per-feature contributions; its last column is the base value."""
    matrix = np.asarray(model.predict(x, pred_contrib=True), dtype=np.float64)
    return Contributions(values=matrix[:, :-1], base=matrix[:, -1], feature_names=list(x.columns))


class LogisticScorer:
    """L2-regularised logistic regression on standardised features (missing -> median).

    A feature's contribution is its coefficient times its standardised value, so a row at the
    training mean of every feature sits exactly at the intercept.
    """

    kind = "logistic"

    def __init__(self, seed: int, strength: float = 0.5) -> None:
        self.pipeline = Pipeline(
            [
                ("impute", SimpleImputer(strategy="median", keep_empty_features=True)),
                ("scale", StandardScaler()),
                ("model", LogisticRegression(C=strength, max_iter=2_000, random_state=seed)),
            ]
        )
        self.feature_names: list[str] = []

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> LogisticScorer:
        self.feature_names = list(x.columns)
        self.pipeline.fit(x.to_numpy(dtype=np.float64), y)
        return self

    def _standardised(self, x: pd.DataFrame) -> np.ndarray:
        # The fitted imputer's and scaler's arithmetic, done directly: the same values as
        # `pipeline[:-1].transform`, without its per-call validation, which cost most of a
        # one-contact online score.
        values = x.to_numpy(dtype=np.float64)
        impute: SimpleImputer = self.pipeline[0]
        scale: StandardScaler = self.pipeline[1]
        filled = np.where(np.isnan(values), impute.statistics_, values)
        return np.asarray((filled - scale.mean_) / scale.scale_, dtype=np.float64)

    def raw_score(self, x: pd.DataFrame) -> np.ndarray:
        return self.contributions(x).raw_score()

    def contributions(self, x: pd.DataFrame) -> Contributions:
        model: LogisticRegression = self.pipeline[-1]
        values = self._standardised(x) * model.coef_[0]
        return Contributions(
            values=values, base=np.full(len(x), float(model.intercept_[0])), feature_names=self.feature_names
        )


class RateTableScorer:
    """The observed outcome rate per range of the one most telling feature, shrunk towards the
    overall rate: a rule a sales manager could write on a whiteboard, for when labels are few."""

    kind = "rules"

    def __init__(self, seed: int, bins: int = 4, prior_strength: float = 10.0) -> None:
        del seed  # deterministic; the argument keeps one factory signature for every scorer
        self.bins = bins
        self.prior_strength = prior_strength
        self.feature_names: list[str] = []
        self.feature = ""
        self.edges: np.ndarray = np.empty(0)
        self.bin_logits: np.ndarray = np.empty(0)
        self.base_logit = 0.0

    def fit(self, x: pd.DataFrame, y: np.ndarray) -> RateTableScorer:
        self.feature_names = list(x.columns)
        labels = np.asarray(y, dtype=np.float64)
        self.feature = max(self.feature_names, key=lambda name: _separation(x[name].to_numpy(np.float64), labels))
        values = x[self.feature].to_numpy(np.float64)
        known = values[~np.isnan(values)]
        quantiles = np.quantile(known, np.linspace(0, 1, self.bins + 1)[1:-1]) if known.size else np.empty(0)
        self.edges = np.unique(quantiles)
        base_rate = float(labels.mean())
        self.base_logit = float(logit(base_rate))
        index = self._bin(values)
        logits = []
        for b in range(len(self.edges) + 2):  # value bins, then one bin for missing
            members = labels[index == b]
            rate = (members.sum() + self.prior_strength * base_rate) / (members.size + self.prior_strength)
            logits.append(float(logit(rate)))
        self.bin_logits = np.asarray(logits)
        return self

    def _bin(self, values: np.ndarray) -> np.ndarray:
        index = np.searchsorted(self.edges, values, side="right")
        return np.where(np.isnan(values), len(self.edges) + 1, index)

    def raw_score(self, x: pd.DataFrame) -> np.ndarray:
        return self.contributions(x).raw_score()

    def contributions(self, x: pd.DataFrame) -> Contributions:
        values = np.zeros((len(x), len(self.feature_names)))
        column = self.feature_names.index(self.feature)
        values[:, column] = self.bin_logits[self._bin(x[self.feature].to_numpy(np.float64))] - self.base_logit
        return Contributions(values=values, base=np.full(len(x), self.base_logit), feature_names=self.feature_names)


def _separation(values: np.ndarray, labels: np.ndarray) -> float:
    """How well one feature alone ranks outcomes (|AUC - 0.5|; missing ranks lowest)."""
    missing = np.isnan(values)
    if missing.all() or np.unique(labels).size < 2:
        return 0.0
    filled = np.where(missing, np.nanmin(values) - 1, values)
    if np.unique(filled).size < 2:
        return 0.0
    return abs(float(roc_auc_score(labels, filled)) - 0.5)
