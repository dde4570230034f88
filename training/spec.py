"""What distinguishes one model from another: a frozen spec the one pipeline runs."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import polars as pl

from crm_core.exports import CrmExport
from features.model_registry.vocabulary import FEATURE_SERVICE_PARAM
from models.graduated import SCORER_FACTORIES, DataMinimums
from models.scorers import Scorer
from training.split import Split, TimeSplit

LabelBuilder = Callable[[CrmExport, list[datetime]], pl.DataFrame]


@dataclass(frozen=True)
class TrainingSpec:
    """A model's definition: features it asks for, how it is labelled, fitted and judged.

    `build_labels` returns (contact_id, event_timestamp, label) rows for the given dates. The
    fit follows the graduated path (rules -> logistic -> LightGBM, as the label counts allow,
    bounded by `minimums`); `scorers` says how each kind is built. Promotion needs the
    candidate to beat the champion's `primary_metric` on the same holdout by more than
    `min_improvement`. Bands come from the outcome rate the model is calibrated to.
    """

    model_name: str
    feature_service: str
    build_labels: LabelBuilder
    split: Split
    # The entry's own feature rules on top of the outcome's population (which the labels
    # already hold): applied to the point-in-time features, as scoring applies them.
    population: pl.Expr | None = None
    population_words: str = "every contact labelled"
    primary_metric: str = "roc_auc"
    min_improvement: float = 0.0
    seed: int = 42
    minimums: DataMinimums = field(default_factory=DataMinimums)
    scorers: Mapping[str, Callable[[int], Scorer]] = field(default_factory=lambda: dict(SCORER_FACTORIES))

    def params(self) -> dict[str, Any]:
        """What MLflow records about the spec itself."""
        return {
            "model_name": self.model_name,
            FEATURE_SERVICE_PARAM: self.feature_service,
            "label": getattr(self.build_labels, "__name__", repr(self.build_labels)),
            "horizon_days": self.split.horizon_days if isinstance(self.split, TimeSplit) else "none (no dates)",
            "population": self.population_words,
            "primary_metric": self.primary_metric,
            "min_improvement": self.min_improvement,
            "seed": self.seed,
            "min_minority_labels": self.minimums.min_minority,
        }
