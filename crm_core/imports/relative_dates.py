"""Dates for a file that has none, from the days between one customer's events.

Some exports (Instacart's orders, app event logs) give each event only its number in the
customer's sequence and the days since the customer's previous one. Laid end to end per
customer, those gaps place every event; anchoring each customer's last event on one date (and
at the hour the file gives, if any) turns them into timestamps the importer parses like any
other. Where a gap is missing (other than before a customer's first event) the events before it
cannot be placed, nor can a row whose number is not a number: those rows get no date, and are
refused rather than guessed at.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, time

import polars as pl

STAMP = "%Y-%m-%d %H:%M:%S"
MILLISECONDS_PER_DAY = 86_400_000


@dataclass(frozen=True)
class RelativeDates:
    customer: str  # the column naming whose events these are
    sequence: str  # the column numbering each customer's events (1, 2, ...)
    days_since_previous: str  # the column of days since the same customer's previous event
    last_on: date  # the day each customer's last event falls on
    hour: str | None = None  # the column of the event's hour of the day, if the file has one

    @property
    def columns(self) -> tuple[str, ...]:
        return (self.customer, self.sequence, self.days_since_previous, *((self.hour,) if self.hour else ()))


def dates_from_gaps(frame: pl.DataFrame, spec: RelativeDates) -> pl.Series:
    """Each row's timestamp as text (null where it cannot be placed), in the file's row order."""
    hour = pl.col(spec.hour).cast(pl.Float64, strict=False) if spec.hour else pl.lit(0.0)
    rows = frame.select(
        pl.col(spec.customer).alias("customer"),
        pl.col(spec.sequence).cast(pl.Float64, strict=False).cast(pl.Int64, strict=False).alias("number"),
        pl.col(spec.days_since_previous).cast(pl.Float64, strict=False).alias("gap"),
        hour.alias("hour"),
    ).with_row_index("row")
    events = (
        rows.drop_nulls(["customer", "number"])
        .group_by("customer", "number")
        .agg(pl.col("gap").first(), pl.col("hour").first())
        .sort("customer", "number")
        .with_columns(
            (pl.col("number") == pl.col("number").min().over("customer")).alias("first"),
            pl.col("gap").fill_null(0.0).cum_sum().over("customer").alias("day"),
        )
        .with_columns((pl.col("gap").is_null() & ~pl.col("first")).cast(pl.Int64).alias("missing"))
        .with_columns(
            # Anchored at the last event, an event is placed by the gaps after it: one missing
            # there leaves it (and every event before it) with no date.
            (pl.col("missing").cum_sum(reverse=True).over("customer") - pl.col("missing")).alias("missing_after"),
            (pl.col("day").max().over("customer") - pl.col("day")).alias("days_before_last"),
        )
    )
    anchor = datetime.combine(spec.last_on, time())
    if spec.hour is None:
        before = pl.duration(milliseconds=(pl.col("days_before_last") * MILLISECONDS_PER_DAY).round().cast(pl.Int64))
        at = pl.lit(anchor) - before
    else:
        # The hour column says the time of day: whole days back, at that hour.
        before = pl.duration(days=pl.col("days_before_last").floor().cast(pl.Int64))
        at = pl.lit(anchor) - before + pl.duration(hours=pl.col("hour").fill_null(0.0).cast(pl.Int64))
    placed = events.select(
        "customer",
        "number",
        pl.when(pl.col("missing_after") == 0).then(at).dt.strftime(STAMP).alias("at"),
    )
    return rows.join(placed, on=["customer", "number"], how="left").sort("row")["at"]
