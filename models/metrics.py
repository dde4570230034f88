"""Binary-classifier metrics logged for every run and compared by the promotion gate."""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike
from sklearn.metrics import average_precision_score, brier_score_loss, roc_auc_score

CALIBRATION_BINS = 10


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


def expected_calibration_error(y_true: ArrayLike, y_prob: ArrayLike, bins: int = CALIBRATION_BINS) -> float:
    """Mean gap between predicted and observed rates over equal-width probability bins,
    weighted by how many records fall in each bin: "a 30% score means 30%" within this much."""
    truth = np.asarray(y_true, dtype=np.float64)
    prob = np.asarray(y_prob, dtype=np.float64)
    if len(truth) == 0:
        raise ValueError("calibration error of an empty set is undefined")
    # Bin i holds [i/bins, (i+1)/bins); a probability of exactly 1 belongs to the last bin.
    index = np.minimum((prob * bins).astype(np.int64), bins - 1)
    gap = 0.0
    for b in range(bins):
        members = index == b
        count = int(members.sum())
        if count:
            gap += count * abs(float(truth[members].mean()) - float(prob[members].mean()))
    return gap / len(truth)


def reliability_table(y_true: ArrayLike, y_prob: ArrayLike, bins: int = CALIBRATION_BINS) -> list[dict[str, float]]:
    """Per bin: records, mean predicted and observed rate; what a calibration chart draws."""
    truth = np.asarray(y_true, dtype=np.float64)
    prob = np.asarray(y_prob, dtype=np.float64)
    index = np.minimum((prob * bins).astype(np.int64), bins - 1)
    return [
        {
            "bin_low": b / bins,
            "records": float((index == b).sum()),
            "predicted": float(prob[index == b].mean()),
            "observed": float(truth[index == b].mean()),
        }
        for b in range(bins)
        if (index == b).any()
    ]


def binary_metrics(y_true: ArrayLike, y_score: ArrayLike) -> dict[str, float]:
    truth = np.asarray(y_true)
    if len(np.unique(truth)) < 2:
        raise ValueError("metrics need both classes in the holdout; it holds only one")
    return {
        "roc_auc": float(roc_auc_score(truth, y_score)),
        "pr_auc": float(average_precision_score(truth, y_score)),
        "brier": float(brier_score_loss(truth, y_score)),
        "ece": expected_calibration_error(truth, y_score),
        "lift_top_decile": lift_at_top(truth, y_score, 0.1),
        "positive_rate": float(truth.mean()),
        "rows": float(len(truth)),
    }
