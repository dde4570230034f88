"""Churn and conversion labels, each defined once and built point-in-time from CRM exports.

A contact is in the population at `as_of` when they were active in the 90 days before it
(an order or any interaction): contacts who already left are not "at risk". The label is 1
when they then show no order and no interaction in the `horizon_days` after `as_of`.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from crm_core.exports import CrmExport
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP

ACTIVE_LOOKBACK_DAYS = 90
LABEL = "label"


def _event_times(export: CrmExport) -> pl.LazyFrame:
    return pl.concat(
        [
            export.activities.lazy().select(ENTITY_KEY, pl.col("occurred_at").alias("at")),
            export.orders.lazy().select(ENTITY_KEY, pl.col("ordered_at").alias("at")),
        ]
    )


def churn_labels(export: CrmExport, as_of_dates: list[datetime], *, horizon_days: int) -> pl.DataFrame:
    """(contact_id, event_timestamp, label) for each active contact at each `as_of`."""
    events = _event_times(export)
    frames = []
    for as_of in as_of_dates:
        active = (
            events.filter((pl.col("at") <= as_of) & (pl.col("at") > as_of - timedelta(days=ACTIVE_LOOKBACK_DAYS)))
            .select(ENTITY_KEY)
            .unique()
        )
        returned = (
            events.filter((pl.col("at") > as_of) & (pl.col("at") <= as_of + timedelta(days=horizon_days)))
            .select(ENTITY_KEY)
            .unique()
            .with_columns(pl.lit(True).alias("returned"))
        )
        frames.append(
            active.join(returned, on=ENTITY_KEY, how="left").select(
                pl.col(ENTITY_KEY).cast(pl.Int64),
                pl.lit(as_of).cast(pl.Datetime("us")).alias(EVENT_TIMESTAMP),
                pl.col("returned").is_null().cast(pl.Int8).alias(LABEL),
            )
        )
    return pl.concat(pl.collect_all(frames)).sort(EVENT_TIMESTAMP, ENTITY_KEY)


def conversion_labels(export: CrmExport, as_of_dates: list[datetime], *, horizon_days: int) -> pl.DataFrame:
    """(contact_id, event_timestamp, label): contacts with a deal open at `as_of`, labelled 1 when
    one of those deals is won within `horizon_days` after it. A deal lost, or still open at the
    horizon, is 0; a contact with nothing open is not a lead at that date and gets no row."""
    deals = export.deals.lazy()
    frames = []
    for as_of in as_of_dates:
        open_then = deals.filter(
            (pl.col("opened_at") <= as_of) & (pl.col("closed_at").is_null() | (pl.col("closed_at") > as_of))
        )
        won_in_horizon = (pl.col("status") == "won") & (pl.col("closed_at") <= as_of + timedelta(days=horizon_days))
        frames.append(
            open_then.group_by(ENTITY_KEY)
            .agg(won_in_horizon.any().cast(pl.Int8).alias(LABEL))
            .select(
                pl.col(ENTITY_KEY).cast(pl.Int64),
                pl.lit(as_of).cast(pl.Datetime("us")).alias(EVENT_TIMESTAMP),
                LABEL,
            )
        )
    return pl.concat(pl.collect_all(frames)).sort(EVENT_TIMESTAMP, ENTITY_KEY)


def order_labels(export: CrmExport, as_of_dates: list[datetime], *, horizon_days: int) -> pl.DataFrame:
    """(contact_id, event_timestamp, label): contacts who had ordered by `as_of` (customers, the
    ones an offer of more can reach), labelled 1 when they order again within `horizon_days`."""
    orders = export.orders.lazy().select(ENTITY_KEY, pl.col("ordered_at").alias("at"))
    frames = []
    for as_of in as_of_dates:
        customers = orders.filter(pl.col("at") <= as_of).select(ENTITY_KEY).unique()
        ordered_again = (
            orders.filter((pl.col("at") > as_of) & (pl.col("at") <= as_of + timedelta(days=horizon_days)))
            .select(ENTITY_KEY)
            .unique()
            .with_columns(pl.lit(True).alias("ordered"))
        )
        frames.append(
            customers.join(ordered_again, on=ENTITY_KEY, how="left").select(
                pl.col(ENTITY_KEY).cast(pl.Int64),
                pl.lit(as_of).cast(pl.Datetime("us")).alias(EVENT_TIMESTAMP),
                pl.col("ordered").is_not_null().cast(pl.Int8).alias(LABEL),
            )
        )
    return pl.concat(pl.collect_all(frames)).sort(EVENT_TIMESTAMP, ENTITY_KEY)
