"""Training specs made from the model catalogue: a new model is a catalogue entry, not a pipeline.

Each scorer outcome the catalogue can name has one label builder here; an entry picks its
builder by outcome and its horizon, and the rest of its spec (feature service, split, metric)
follows from the entry.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

import polars as pl

from crm_core.exports import CrmExport
from features.catalogue import Catalogue, ModelEntry, ModelKind, Outcome
from training.labels import churn_labels, conversion_labels, order_labels, value_reached_labels
from training.spec import LabelBuilder, TrainingSpec
from training.split import TimeSplit

OutcomeLabels = Callable[..., pl.DataFrame]

LABELS_BY_OUTCOME: dict[Outcome, OutcomeLabels] = {
    Outcome.GOES_QUIET: churn_labels,
    Outcome.DEAL_WON: conversion_labels,
    Outcome.ORDER_PLACED: order_labels,
    Outcome.STAGE_REACHED: value_reached_labels,
    Outcome.FIELD_VALUE: value_reached_labels,
}


def labels_for(entry: ModelEntry) -> LabelBuilder:
    """The entry's outcome labelled over its horizon, named for what it labels (MLflow records it)."""
    builder = LABELS_BY_OUTCOME[entry.outcome]
    horizon_days = entry.horizon_days
    terms = entry.label_terms

    def build(export: CrmExport, as_of_dates: list[datetime]) -> pl.DataFrame:
        return builder(export, as_of_dates, horizon_days=horizon_days, **terms)

    stated = "".join(f"_{name}_{'+'.join(v) if isinstance(v, tuple) else v}" for name, v in terms.items() if v)
    build.__name__ = f"{entry.outcome.value}_within_{horizon_days}_days{stated}"
    return build


def spec_for(entry: ModelEntry) -> TrainingSpec:
    if entry.kind is not ModelKind.SCORER:
        raise ValueError(f"'{entry.name}' is a {entry.kind.value}, not a scorer")
    return TrainingSpec(
        model_name=entry.name,
        feature_service=entry.feature_service,
        build_labels=labels_for(entry),
        split=TimeSplit(horizon_days=entry.horizon_days),
        primary_metric=entry.primary_metric,
        min_improvement=entry.min_improvement,
    )


def scorer_specs(catalogue: Catalogue) -> dict[str, TrainingSpec]:
    return {entry.name: spec_for(entry) for entry in catalogue.scorers()}
