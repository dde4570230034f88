"""The scoring evaluations: each reads a data set back out of the CRM it was imported into and
returns labelled rows, the columns a model may use, and the columns it must never use.

`outcome_columns` name what the CRM holds about a record that is only known after its outcome
(Bank's call `duration`, Olist's deal-side fields, Telco's cancelled orders); the runner refuses
a case whose features include one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import polars as pl
from sqlalchemy import Engine

from crm_core.detail_exports import (
    export_activity_properties,
    export_contact_stages,
    export_deal_outcomes,
    export_order_lines,
)
from crm_core.exports import export_contact_custom
from training.evaluation.splits import AT, LABEL, SplitKind


@dataclass(frozen=True)
class LabelledSet:
    frame: pl.DataFrame  # contact_id, at, label and the feature columns
    feature_columns: list[str]
    outcome_columns: tuple[str, ...]
    split: SplitKind
    population: str


@dataclass(frozen=True)
class Target:
    metric: str
    threshold: float
    higher_is_better: bool
    reference: str

    def met(self, value: float) -> bool:
        return value >= self.threshold if self.higher_is_better else value <= self.threshold

    def describe(self) -> str:
        return f"{'>=' if self.higher_is_better else '<='} {self.threshold:g}"


@dataclass(frozen=True)
class ScoringCase:
    key: str
    dataset: str
    title: str
    build: Callable[[Engine], LabelledSet]
    targets: tuple[Target, ...]


CALIBRATED = Target("ece", 0.03, higher_is_better=False, reference="issue 4: every model calibrated, ECE <= 0.03")


def telco_churn(engine: Engine) -> LabelledSet:
    """Churned (lifecycle stage) from demographics, contract terms and subscribed services."""
    stages = export_contact_stages(engine)
    custom = export_contact_custom(engine).drop("customer_id")
    lines = export_order_lines(engine)
    services = (
        lines.select("contact_id", pl.format("has_product_{}", pl.col("product_id")).alias("service"))
        .with_columns(pl.lit(1.0).alias("subscribed"))
        .pivot("service", index="contact_id", values="subscribed")
        .with_columns(pl.exclude("contact_id").fill_null(0.0))
    )
    service_columns = sorted(column for column in services.columns if column != "contact_id")
    frame = (
        stages.join(custom, on="contact_id", how="left")
        .join(services, on="contact_id", how="left")
        .with_columns(
            (pl.col("lifecycle_stage") == "churned").cast(pl.Int8).alias(LABEL),
            pl.col("created_at").alias(AT),
            pl.col(service_columns).fill_null(0.0),
        )
    )
    features = [column for column in custom.columns if column != "contact_id"] + service_columns
    return LabelledSet(
        frame=frame.select("contact_id", AT, LABEL, *features),
        feature_columns=features,
        outcome_columns=("lifecycle_stage", "order_status"),
        split="stratified",
        population="every customer in the snapshot",
    )


BANK_NUMERIC = (
    "campaign",
    "pdays",
    "previous",
    "emp_var_rate",
    "cons_price_idx",
    "cons_conf_idx",
    "euribor3m",
    "nr_employed",
)
BANK_TEXT = ("contact", "day_of_week", "poutcome")


def bank_marketing(engine: Engine) -> LabelledSet:
    """Term deposit won, from the client and what was known when the call was placed."""
    calls = export_activity_properties(engine, "campaign_call")
    custom = export_contact_custom(engine)
    outcomes = export_deal_outcomes(engine).select("contact_id", (pl.col("status") == "won").cast(pl.Int8).alias(LABEL))
    frame = (
        calls.select(
            "contact_id",
            pl.col("occurred_at").alias(AT),
            *[pl.col(name).cast(pl.Float64) for name in BANK_NUMERIC],
            *BANK_TEXT,
        )
        .join(custom, on="contact_id", how="left")
        .join(outcomes, on="contact_id", how="inner")
    )
    features = [*BANK_NUMERIC, *BANK_TEXT, *(column for column in custom.columns if column != "contact_id")]
    return LabelledSet(
        frame=frame.select("contact_id", AT, LABEL, *features),
        feature_columns=features,
        outcome_columns=("duration", "status", "closed_at"),
        split="time",
        population="every campaign call",
    )


OLIST_HORIZON = timedelta(days=180)


def olist_funnel(engine: Engine) -> LabelledSet:
    """Lead won within 180 days of first contact, from what was known at first contact.

    Leads too recent to have had the full 180 days before the newest recorded deal are left
    out (their outcome is not yet known), rather than counted as lost.
    """
    stages = export_contact_stages(engine)
    custom = export_contact_custom(engine).drop("mql_id")
    won = (
        export_deal_outcomes(engine)
        .filter(pl.col("status") == "won")
        .group_by("contact_id")
        .agg(pl.col("closed_at").min().alias("won_at"))
    )
    data_end = won["won_at"].max()
    frame = (
        stages.join(custom, on="contact_id", how="left")
        .join(won, on="contact_id", how="left")
        .filter(pl.col("created_at") + OLIST_HORIZON <= data_end)
        .with_columns(
            pl.col("created_at").alias(AT),
            (pl.col("won_at").is_not_null() & (pl.col("won_at") <= pl.col("created_at") + OLIST_HORIZON))
            .cast(pl.Int8)
            .alias(LABEL),
            pl.col("created_at").dt.weekday().cast(pl.Float64).alias("first_contact_weekday"),
        )
    )
    features = [*(column for column in custom.columns if column != "contact_id"), "first_contact_weekday"]
    return LabelledSet(
        frame=frame.select("contact_id", AT, LABEL, *features),
        feature_columns=features,
        outcome_columns=("won_at", "business_segment", "lead_type", "business_type", "sdr_id", "sr_id"),
        split="time",
        population="marketing-qualified leads with 180 days of follow-up",
    )


SCORING_CASES = (
    ScoringCase(
        "telco_churn",
        "telco",
        "Telco churn",
        telco_churn,
        (Target("roc_auc", 0.85, True, "README: ROC-AUC commonly 0.84-0.85; LR 0.845"), CALIBRATED),
    ),
    ScoringCase(
        "bank_marketing",
        "bank",
        "Bank Marketing (no duration, time split)",
        bank_marketing,
        (Target("roc_auc", 0.81, True, "README: ~0.80 without duration (paper); HGB 0.806"), CALIBRATED),
    ),
    ScoringCase(
        "olist_funnel",
        "olist",
        "Olist funnel (time split)",
        olist_funnel,
        (CALIBRATED,),
    ),
)
