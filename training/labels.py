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
_HAPPENED = "_happened"


def _event_times(export: CrmExport) -> pl.LazyFrame:
    return pl.concat(
        [
            export.activities.lazy().select(ENTITY_KEY, pl.col("occurred_at").alias("at")),
            export.orders.lazy().select(ENTITY_KEY, pl.col("ordered_at").alias("at")),
        ]
    )


def _happened_within(events: pl.LazyFrame, as_of: datetime, horizon_days: int) -> pl.LazyFrame:
    """Contacts with an event in (as_of, as_of + horizon], flagged `_HAPPENED`."""
    in_horizon = (pl.col("at") > as_of) & (pl.col("at") <= as_of + timedelta(days=horizon_days))
    return events.filter(in_horizon).select(ENTITY_KEY).unique().with_columns(pl.lit(True).alias(_HAPPENED))


def _label_rows(population: pl.LazyFrame, happened: pl.LazyFrame, as_of: datetime, label: pl.Expr) -> pl.LazyFrame:
    """(contact_id, event_timestamp, label) for each contact of `population` at `as_of`."""
    return population.join(happened, on=ENTITY_KEY, how="left").select(
        pl.col(ENTITY_KEY).cast(pl.Int64),
        pl.lit(as_of).cast(pl.Datetime("us")).alias(EVENT_TIMESTAMP),
        label.cast(pl.Int8).alias(LABEL),
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
        returned = _happened_within(events, as_of, horizon_days)
        frames.append(_label_rows(active, returned, as_of, pl.col(_HAPPENED).is_null()))
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
        ordered_again = _happened_within(orders, as_of, horizon_days)
        frames.append(_label_rows(customers, ordered_again, as_of, pl.col(_HAPPENED).is_not_null()))
    return pl.concat(pl.collect_all(frames)).sort(EVENT_TIMESTAMP, ENTITY_KEY)
