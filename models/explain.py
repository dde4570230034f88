"""Per-record reasons: the features that pushed a score up or down most, from LightGBM's
exact tree contributions (the same quantities SHAP's TreeExplainer reports)."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from lightgbm import LGBMClassifier


def top_factors(model: LGBMClassifier, features: pd.DataFrame, k: int = 3) -> list[list[dict[str, Any]]]:
    """For each row, the `k` largest contributions by magnitude, signed, with the raw value."""
    contributions = np.asarray(model.predict(features, pred_contrib=True))[:, :-1]  # last column: bias
    names = list(features.columns)
    values = features.to_numpy(dtype=np.float64)
    strongest = np.argsort(-np.abs(contributions), axis=1, kind="stable")[:, :k]
    return [
        [
            {
                "feature": names[column],
                "contribution": round(float(contributions[row, column]), 4),
                "value": None if np.isnan(values[row, column]) else float(values[row, column]),
            }
            for column in strongest[row]
        ]
        for row in range(len(features))
    ]
