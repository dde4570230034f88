"""The registered model specs. A new model is a new entry here, not a new pipeline."""

from __future__ import annotations

from datetime import datetime

import polars as pl

from crm_core.exports import CrmExport
from training.labels import churn_labels, conversion_labels
from training.spec import TrainingSpec
from training.split import TimeSplit

CHURN_HORIZON_DAYS = 90
LEAD_HORIZON_DAYS = 90


def churn_within_90_days(export: CrmExport, as_of_dates: list[datetime]) -> pl.DataFrame:
    return churn_labels(export, as_of_dates, horizon_days=CHURN_HORIZON_DAYS)


CHURN = TrainingSpec(
    model_name="churn",
    feature_service="churn_v1",
    build_labels=churn_within_90_days,
    split=TimeSplit(horizon_days=CHURN_HORIZON_DAYS),
)


def converts_within_90_days(export: CrmExport, as_of_dates: list[datetime]) -> pl.DataFrame:
    return conversion_labels(export, as_of_dates, horizon_days=LEAD_HORIZON_DAYS)


LEAD = TrainingSpec(
    model_name="lead",
    feature_service="lead_v1",
    build_labels=converts_within_90_days,
    split=TimeSplit(horizon_days=LEAD_HORIZON_DAYS),
)

SPECS: dict[str, TrainingSpec] = {spec.model_name: spec for spec in (CHURN, LEAD)}
