"""The promotion gate: the `champion` alias moves only when a candidate wins on the same holdout."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class PromotionDecision:
    promote: bool
    reason: str


# What a model that learnt nothing scores; a first model must beat it to be shown to anyone.
CHANCE = {"roc_auc": 0.5, "pr_auc": 0.0}


def decide(
    *,
    metric: str,
    candidate: float,
    champion: float | None,
    min_improvement: float,
    baselines: Mapping[str, float] | None = None,
) -> PromotionDecision:
    """Compare scores computed on one holdout; higher is better for every gated metric.

    A candidate must beat every baseline measured on the same holdout (a recommender that loses
    to "buy again" or to popularity helps nobody); with no champion yet, the bar is chance
    (where chance is defined for the metric).
    """
    if math.isnan(candidate):
        return PromotionDecision(False, f"candidate {metric} is undefined")
    for name, figure in (baselines or {}).items():
        if candidate <= figure:
            return PromotionDecision(
                False, f"{metric} {candidate:.4f} does not beat the {name} baseline {figure:.4f} on the same holdout"
            )
    if champion is None:
        floor = CHANCE.get(metric)
        if floor is not None and candidate <= floor + min_improvement:
            return PromotionDecision(False, f"no champion yet, but {metric} {candidate:.4f} is no better than chance")
        return PromotionDecision(True, f"no champion yet; candidate {metric} {candidate:.4f}")
    if candidate > champion + min_improvement:
        return PromotionDecision(
            True, f"{metric} {candidate:.4f} beats champion {champion:.4f} by more than {min_improvement}"
        )
    return PromotionDecision(
        False, f"{metric} {candidate:.4f} does not beat champion {champion:.4f} by more than {min_improvement}"
    )
