"""Population stability (PSI) per feature: has the population being scored moved away from the
one the model learnt from?

Bins are the training distribution's deciles (missing values get a bin of their own), so a
feature is judged on the ranges the model actually split on. Conventional reading: below 0.1
stable, 0.1-0.25 worth watching, above 0.25 shifted enough to retrain.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

PSI_BINS = 10
# A bin empty on one side would make PSI infinite; a small floor keeps it finite and comparable.
SHARE_FLOOR = 1e-4
WATCH, SHIFTED = 0.1, 0.25
# How much more than over the same span of its training history a feature may move and still
# be read as the calendar moving it.
CONSTRUCTION_MARGIN = 1.5
MOVES_WITH_TIME = "moves with time"


@dataclass(frozen=True)
class FeatureDrift:
    feature: str
    psi: float
    # The most PSI the same feature showed over such a span inside the training history (0: unknown).
    span_psi: float = 0.0
    grows_with_time: bool = False  # an age or a lifetime total: no behaviour holds it still

    @property
    def by_construction(self) -> bool:
        """Moved by the calendar, not by a changed population: a feature that grows with time
        for every contact, or one that moved no more than it did over such a span of the
        history the model learnt from. Not an alert."""
        if self.grows_with_time:
            return True
        return self.span_psi >= WATCH and self.psi <= self.span_psi * CONSTRUCTION_MARGIN

    @property
    def verdict(self) -> str:
        if self.by_construction:
            return MOVES_WITH_TIME
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


def feature_drift(
    expected: dict[str, np.ndarray],
    actual: dict[str, np.ndarray],
    span_psi: Mapping[str, float] | None = None,
    grows_with_time: frozenset[str] = frozenset(),
) -> list[FeatureDrift]:
    """PSI for every feature present in both, largest shift first; `span_psi`: each feature's
    largest PSI over such a span inside the training history, where known."""
    shared = [name for name in expected if name in actual]
    spans = span_psi or {}
    return sorted(
        (
            FeatureDrift(name, psi(expected[name], actual[name]), spans.get(name, 0.0), name in grows_with_time)
            for name in shared
        ),
        key=lambda d: (-d.psi, d.feature),
    )


def worst_real_drift(drift: list[FeatureDrift]) -> FeatureDrift | None:
    """The most moved feature that the calendar alone does not explain: what an alert is about."""
    return next((d for d in drift if not d.by_construction), None)
