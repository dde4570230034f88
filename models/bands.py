"""Score bands: the words a user sees next to a probability."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Bands:
    """Probability cut-offs: below `medium` is low, below `high` is medium, the rest high."""

    medium: float = 0.2
    high: float = 0.5

    def __post_init__(self) -> None:
        if not 0.0 < self.medium < self.high < 1.0:
            raise ValueError(f"band cut-offs must satisfy 0 < medium < high < 1, got {self}")

    @classmethod
    def from_outcome_rate(cls, rate: float) -> Bands:
        """Cut-offs in the units users think in, for calibrated scores: "medium" from the
        average outcome rate up, "high" from twice that (or halfway to certain, if lower)."""
        if not 0.0 < rate < 1.0:
            raise ValueError(f"an outcome rate strictly between 0 and 1 is needed, got {rate}")
        return cls(medium=rate, high=min(2 * rate, (1 + rate) / 2))

    def band(self, score: float) -> str:
        if score >= self.high:
            return "high"
        if score >= self.medium:
            return "medium"
        return "low"
