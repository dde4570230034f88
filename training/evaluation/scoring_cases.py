"""The scoring evaluations: each reads a data set back out of the CRM it was imported into and
returns labelled rows, the columns a model may use, and the columns it must never use.

`outcome_columns` name what the CRM holds about a record that is only known after its outcome
(Olist's deal-side fields); the runner refuses a case whose features include one. Telco,
Bank, Olist's open leads and Instacart's baskets are evaluated through the product path instead
(`crm_intel.app.product_evaluation`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

import polars as pl
from sqlalchemy import Engine

from crm_core.detail_exports import export_contact_stages, export_deal_outcomes
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


OLIST_HORIZON = timedelta(days=180)


def olist_funnel(engine: Engine) -> LabelledSet:
    """Lead won within 180 days of first contact, from what was known at first contact (the
    leads' origin and landing page, loaded by the shipped mapping files).

    Leads too recent to have had the full 180 days before the newest recorded deal are left
    out (their outcome is not yet known), rather than counted as lost.
    """
    stages = export_contact_stages(engine)
    custom = export_contact_custom(engine)
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
        "olist_funnel",
        "olist",
        "Olist funnel (time split)",
        olist_funnel,
        (CALIBRATED,),
    ),
)
