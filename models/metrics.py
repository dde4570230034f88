"""Binary-classifier metrics logged for every run and compared by the promotion gate."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score


def lift_at_top(y_true: ArrayLike, y_score: ArrayLike, fraction: float = 0.1) -> float:
    """Positive rate among the top `fraction` of scores over the overall positive rate."""
    truth = np.asarray(y_true, dtype=np.float64)
    scores = np.asarray(y_score, dtype=np.float64)
    base_rate = truth.mean()
    if base_rate == 0:
        return float("nan")
    top = max(1, round(len(scores) * fraction))
    order = np.argsort(-scores, kind="stable")[:top]
    return float(truth[order].mean() / base_rate)


def binary_metrics(y_true: ArrayLike, y_score: ArrayLike) -> dict[str, float]:
    truth = np.asarray(y_true)
    if len(np.unique(truth)) < 2:
        raise ValueError("metrics need both classes in the holdout; it holds only one")
    return {
        "roc_auc": float(roc_auc_score(truth, y_score)),
        "pr_auc": float(average_precision_score(truth, y_score)),
        "brier": float(brier_score_loss(truth, y_score)),
        "lift_top_decile": lift_at_top(truth, y_score, 0.1),
        "positive_rate": float(truth.mean()),
        "rows": float(len(truth)),
    }
