"""UCI Bank Marketing: 41,188 phone campaign calls (May 2008 to November 2010) as contacts,
campaign-call activities and the term-deposit offer as a deal won or lost.

The file gives month and weekday, in date order, but no year or day: the year advances when
the month goes back (December -> March), and each month's calls are spread evenly over that
month in file order (the weekday is kept on the call), so time order is the file's order.
`duration` is stored on the call (it is what happened) but is known only after the call:
models must not use it.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import polars as pl

from crm_core.datasets.common import CustomField, custom_field_rows, dataset_file
from crm_core.entities import CustomFieldType

FILE = "bank_marketing/bank-additional-full.csv"
FIRST_YEAR = 2008
MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")

CONTACT_FIELDS = [
    CustomField("age", "Age", CustomFieldType.INTEGER),
    CustomField("job", "Job", CustomFieldType.TEXT),
    CustomField("marital", "Marital status", CustomFieldType.TEXT),
    CustomField("education", "Education", CustomFieldType.TEXT),
    CustomField("credit_default", "Credit in default", CustomFieldType.TEXT),
    CustomField("housing_loan", "Housing loan", CustomFieldType.TEXT),
    CustomField("personal_loan", "Personal loan", CustomFieldType.TEXT),
]
CALL_PROPERTIES = (
    "contact",
    "day_of_week",
    "duration",
    "campaign",
    "pdays",
    "previous",
    "poutcome",
    "emp.var.rate",
    "cons.price.idx",
    "cons.conf.idx",
    "euribor3m",
    "nr.employed",
)


def read(data_dir: Path) -> pl.DataFrame:
    return pl.read_csv(dataset_file(data_dir, FILE), separator=";", infer_schema=False)


def call_times(months: list[str]) -> list[datetime]:
    """Timestamps in file order: years from month wrap-arounds, each month's calls spread over it."""
    runs: list[tuple[datetime, int]] = []  # (month start, calls in that run of rows)
    year, previous = FIRST_YEAR, 0
    for name in months:
        month = MONTHS.index(name) + 1
        if runs and month == previous:
            runs[-1] = (runs[-1][0], runs[-1][1] + 1)
            continue
        if month < previous:
            year += 1
        runs.append((datetime(year, month, 1), 1))
        previous = month
    times: list[datetime] = []
    for start, count in runs:
        following = datetime(start.year + start.month // 12, start.month % 12 + 1, 1)
        step = (following - start) / count
        times.extend(start + step * position for position in range(count))
    return times


def tables(data_dir: Path) -> dict[str, pl.DataFrame]:
    raw = read(data_dir).with_row_index("id", offset=1).with_columns(pl.col("id").cast(pl.Int64))
    raw = raw.with_columns(pl.Series("called_at", call_times(raw["month"].to_list()), pl.Datetime("us")))
    contacts = raw.select(
        "id",
        pl.lit(None, pl.Int64).alias("account_id"),
        pl.lit(None, pl.Int64).alias("owner_id"),
        pl.lit("Client").alias("first_name"),
        pl.format("B{}", pl.col("id").cast(pl.String).str.zfill(5)).alias("last_name"),
        pl.when(pl.col("y") == "yes").then(pl.lit("customer")).otherwise(pl.lit("lead")).alias("lifecycle_stage"),
        pl.col("called_at").alias("created_at"),
        pl.struct(
            pl.col("age").cast(pl.Int64).alias("age"),
            "job",
            "marital",
            "education",
            pl.col("default").alias("credit_default"),
            pl.col("housing").alias("housing_loan"),
            pl.col("loan").alias("personal_loan"),
        ).alias("custom"),
    )
    activities = raw.select(
        "id",
        pl.col("id").alias("contact_id"),
        pl.lit("campaign_call").alias("type"),
        pl.lit("phone").alias("channel"),
        pl.col("called_at").alias("occurred_at"),
        pl.struct(pl.col(name).alias(name.replace(".", "_")) for name in CALL_PROPERTIES).alias("properties"),
    )
    won = pl.col("y") == "yes"
    deals = raw.select(
        "id",
        pl.lit(None, pl.Int64).alias("account_id"),
        pl.col("id").alias("contact_id"),
        pl.lit(None, pl.Int64).alias("owner_id"),
        pl.lit("Term deposit").alias("name"),
        pl.lit(0.0).alias("amount"),
        pl.when(won).then(pl.lit("closed_won")).otherwise(pl.lit("closed_lost")).alias("stage"),
        pl.when(won).then(pl.lit("won")).otherwise(pl.lit("lost")).alias("status"),
        pl.col("called_at").alias("opened_at"),
        pl.col("called_at").alias("closed_at"),
    )
    return {
        "custom_field_definitions": custom_field_rows("contact", CONTACT_FIELDS),
        "contacts": contacts,
        "activities": activities,
        "deals": deals,
    }
