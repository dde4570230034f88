"""A small labelled data set with a known signal, for the estimators' tests."""

from __future__ import annotations

import numpy as np
import pandas as pd


def synthetic(n: int, seed: int, base_shift: float = 0.0) -> tuple[pd.DataFrame, np.ndarray]:
    """Outcome driven by `signal` (up) and `drag` (down); `noise` is unrelated; some gaps."""
    rng = np.random.default_rng(seed)
    x = pd.DataFrame({"signal": rng.normal(size=n), "drag": rng.normal(size=n), "noise": rng.normal(size=n)})
    x.loc[rng.random(n) < 0.05, "noise"] = np.nan
    logit = -1.0 + base_shift + 1.5 * x["signal"] - 1.0 * x["drag"]
    y = (rng.random(n) < 1 / (1 + np.exp(-logit))).astype(int).to_numpy()
    return x, y
