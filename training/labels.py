"""Outcome labels, each defined once and built point-in-time from CRM exports.

Going quiet: a contact is in the population at `as_of` when they were engaged in the 90 days
before it (an order or an interaction of the kinds that count): contacts who already left are
not "at risk". The label is 1 when they then show no engagement in the `horizon_days` after.

Reaching a value (the stage becomes churned, a custom field becomes "paid"): the population is
every contact existing at `as_of` that does not hold the value then; the label is 1 when the
contact's history shows it taking the value within the horizon.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from crm_core.exports import CrmExport
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP

ACTIVE_LOOKBACK_DAYS = 90
LABEL = "label"
_HAPPENED = "_happened"


ORDER = "order"  # an engagement kind: an order, beside the activity types


def _event_times(export: CrmExport, engagement: tuple[str, ...] | None = None) -> pl.LazyFrame:
    """When each contact engaged: orders and activities, or only the kinds `engagement` names
    (activity types, and "order")."""
    activities = export.activities.lazy()
    if engagement is not None:
        activities = activities.filter(pl.col("type").is_in(list(engagement)))
    frames = [activities.select(ENTITY_KEY, pl.col("occurred_at").alias("at"))]
    if engagement is None or ORDER in engagement:
        frames.append(export.orders.lazy().select(ENTITY_KEY, pl.col("ordered_at").alias("at")))
    return pl.concat(frames)


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


def churn_labels(
    export: CrmExport, as_of_dates: list[datetime], *, horizon_days: int, engagement: tuple[str, ...] | None = None
) -> pl.DataFrame:
    """(contact_id, event_timestamp, label) for each engaged contact at each `as_of`."""
    events = _event_times(export, engagement)
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


def value_reached_labels(
    export: CrmExport, as_of_dates: list[datetime], *, horizon_days: int, field: str, value: str
) -> pl.DataFrame:
    """(contact_id, event_timestamp, label): contacts created by `as_of` that do not hold `value`
    in `field` then, labelled 1 when their history shows them taking it within the horizon."""
    changes = export.contact_changes.lazy().filter(pl.col("field") == field)
    contacts = export.contacts.lazy()
    taken = changes.filter(pl.col("value") == value).select(ENTITY_KEY, pl.col("changed_at").alias("at"))
    frames = []
    for as_of in as_of_dates:
        holding = (
            changes.filter(pl.col("changed_at") <= as_of)
            .group_by(ENTITY_KEY)
            .agg(pl.col("value").sort_by("changed_at").last())
            .filter(pl.col("value") == value)
        )
        population = (
            contacts.filter(pl.col("created_at") <= as_of).select(ENTITY_KEY).join(holding, on=ENTITY_KEY, how="anti")
        )
        reached = _happened_within(taken, as_of, horizon_days)
        frames.append(_label_rows(population, reached, as_of, pl.col(_HAPPENED).is_not_null()))
    return pl.concat(pl.collect_all(frames)).sort(EVENT_TIMESTAMP, ENTITY_KEY)
