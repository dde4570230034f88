"""The promotion gate: the `champion` alias moves only when a candidate wins on the same holdout."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str


def decide(*, metric: str, candidate: float, champion: float | None, min_improvement: float) -> PromotionDecision:
    """Compare scores computed on one holdout; higher is better for every gated metric."""
    if math.isnan(candidate):
        return PromotionDecision(False, f"candidate {metric} is undefined")
    if champion is None:
        return PromotionDecision(True, f"no champion yet; candidate {metric} {candidate:.4f}")
    if candidate > champion + min_improvement:
        return PromotionDecision(
            True, f"{metric} {candidate:.4f} beats champion {champion:.4f} by more than {min_improvement}"
        )
    return PromotionDecision(
        False, f"{metric} {candidate:.4f} does not beat champion {champion:.4f} by more than {min_improvement}"
    )
