"""Training specs made from the model catalogue: a new model is a catalogue entry, not a pipeline.

An entry's labels come from its outcome, horizon and population (`training.labels`), and the
rest of its spec (feature service, population rules, split, metric) follows from the entry.
"""

from __future__ import annotations

from datetime import datetime

import polars as pl

from crm_core.exports import CrmExport
from features.catalogue import Catalogue, History, ModelEntry, ModelKind, SnapshotSplit
from training.labels import outcome_labels
from training.spec import LabelBuilder, TrainingSpec
from training.split import RandomSplit, RecordOrderSplit, Split, TimeSplit


def labels_for(entry: ModelEntry) -> LabelBuilder:
    """The entry's outcome labelled over its horizon, named for what it labels (MLflow records it)."""

    def build(export: CrmExport, as_of_dates: list[datetime]) -> pl.DataFrame:
        return outcome_labels(export, entry, as_of_dates)

    terms = entry.label_terms
    stated = "".join(f"_{name}_{'+'.join(v) if isinstance(v, tuple) else v}" for name, v in terms.items() if v)
    when = "held_now" if entry.history is History.SNAPSHOT else f"within_{entry.horizon_days}_days"
    build.__name__ = f"{entry.outcome.value}_{when}{stated}"
    return build


def spec_for(entry: ModelEntry) -> TrainingSpec:
    if entry.kind is not ModelKind.SCORER:
        raise ValueError(f"'{entry.name}' is a {entry.kind.value}, not a scorer")
    return TrainingSpec(
        model_name=entry.name,
        feature_service=entry.feature_service,
        build_labels=labels_for(entry),
        population=entry.population_expr(),
        population_words=entry.population_in_words(),
        split=split_for(entry),
        primary_metric=entry.primary_metric,
        min_improvement=entry.min_improvement,
    )


def split_for(entry: ModelEntry) -> Split:
    if entry.history is History.DATED:
        return TimeSplit(horizon_days=entry.horizon_days)
    return RecordOrderSplit() if entry.split is SnapshotSplit.RECORD_ORDER else RandomSplit()


def scorer_specs(catalogue: Catalogue) -> dict[str, TrainingSpec]:
    return {entry.name: spec_for(entry) for entry in catalogue.scorers()}
