"""Population stability (PSI) per feature: has the population being scored moved away from the
one the model learnt from?

Bins are the training distribution's deciles (missing values get a bin of their own), so a
feature is judged on the ranges the model actually split on. Conventional reading: below 0.1
stable, 0.1-0.25 worth watching, above 0.25 shifted enough to retrain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

PSI_BINS = 10
# A bin empty on one side would make PSI infinite; a small floor keeps it finite and comparable.
SHARE_FLOOR = 1e-4
WATCH, SHIFTED = 0.1, 0.25


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float

    @property
    def verdict(self) -> str:
        if self.psi >= SHIFTED:
            return "shifted"
        if self.psi >= WATCH:
            return "watch"
        return "stable"


def _shares(values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    missing = np.isnan(values)
    counts = np.bincount(np.searchsorted(edges, values[~missing], side="right"), minlength=len(edges) + 1)
    shares = np.append(counts, missing.sum()) / max(len(values), 1)
    return np.asarray(np.maximum(shares, SHARE_FLOOR), dtype=np.float64)


def psi(expected: np.ndarray, actual: np.ndarray, bins: int = PSI_BINS) -> float:
    """PSI of `actual` against `expected` (the training values), over `expected`'s quantile bins."""
    reference = np.asarray(expected, dtype=np.float64)
    current = np.asarray(actual, dtype=np.float64)
    known = reference[~np.isnan(reference)]
    edges = np.unique(np.quantile(known, np.linspace(0, 1, bins + 1)[1:-1])) if known.size else np.empty(0)
    base, now = _shares(reference, edges), _shares(current, edges)
    return float(np.sum((now - base) * np.log(now / base)))


def feature_drift(expected: dict[str, np.ndarray], actual: dict[str, np.ndarray]) -> list[FeatureDrift]:
    """PSI for every feature present in both, largest shift first."""
    shared = [name for name in expected if name in actual]
    return sorted(
        (FeatureDrift(name, psi(expected[name], actual[name])) for name in shared), key=lambda d: (-d.psi, d.feature)
    )
