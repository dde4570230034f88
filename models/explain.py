"""Per-record reasons: the features that pushed a score up and down most, in the scorer's own
additive units (log-odds), so a record's reasons and its base value add up to its raw score."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd

from models.scorers import Contributions

Reason = dict[str, Any]
# Contributions are shown to 4 decimals; a smaller push is no reason worth showing.
SMALLEST_REASON = 5e-5


def reasons(
    contributions: Contributions,
    features: pd.DataFrame,
    *,
    k: int = 3,
    visible: Callable[[str], bool] = lambda _name: True,
) -> list[dict[str, list[Reason]]]:
    """Per row, the `k` strongest positive and `k` strongest negative contributions.

    `visible` says which features the viewer may see; a hidden feature is never named (its
    effect stays in the score, it just is not offered as a reason).
    """
    names = contributions.feature_names
    shown = np.array([visible(name) for name in names])
    values = _values_of(features, names)
    matrix = np.where(shown, contributions.values, 0.0)
    out: list[dict[str, list[Reason]]] = []
    for row in range(matrix.shape[0]):
        order = np.argsort(-matrix[row], kind="stable")
        up = [c for c in order[:k] if matrix[row, c] >= SMALLEST_REASON]
        down = [c for c in order[::-1][:k] if matrix[row, c] <= -SMALLEST_REASON]
        out.append(
            {
                "positive": [_reason(names[c], matrix[row, c], values[row, c]) for c in up],
                "negative": [_reason(names[c], matrix[row, c], values[row, c]) for c in down],
            }
        )
    return out


def top_factors(contributions: Contributions, features: pd.DataFrame, k: int = 3) -> list[list[Reason]]:
    """For each row, the `k` largest contributions by magnitude, signed, with the raw value."""
    names = contributions.feature_names
    values = _values_of(features, names)
    strongest = np.argsort(-np.abs(contributions.values), axis=1, kind="stable")[:, :k]
    return [
        [_reason(names[c], contributions.values[row, c], values[row, c]) for c in strongest[row]]
        for row in range(len(features))
    ]


def _values_of(features: pd.DataFrame, names: list[str]) -> np.ndarray:
    # Selecting columns by name costs pandas a quarter of a millisecond; served model input is
    # already in the model's column order.
    if list(features.columns) == names:
        return features.to_numpy(dtype=np.float64)
    return features[names].to_numpy(dtype=np.float64)


def _reason(name: str, contribution: float, value: float) -> Reason:
    return {
        "feature": name,
        "contribution": round(float(contribution), 4),
        "value": None if np.isnan(value) else float(value),
    }
