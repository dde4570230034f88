"""Outcome labels, each defined once and built point-in-time from CRM exports.

At each `as_of` the rows are the model's population then (`features.populations`: the same
contacts batch scoring later asks about), and the label says whether the outcome happened in
the `horizon_days` after: no engagement of the kinds that count (going quiet), an open deal
won, an order placed, or the history showing the stage or custom field taking its value.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from crm_core.exports import CrmExport
from features.catalogue import History, ModelEntry, Outcome
from features.populations import deals_open_at, engagement_times, held_at, population_at
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP

LABEL = "label"
_HAPPENED = "_happened"


def _within(column: str, as_of: datetime, horizon_days: int) -> pl.Expr:
    """In (as_of, as_of + horizon]: after the features' date, up to the horizon's last day."""
    return (pl.col(column) > as_of) & (pl.col(column) <= as_of + timedelta(days=horizon_days))


def happened_within(export: CrmExport, entry: ModelEntry, as_of: datetime) -> pl.LazyFrame:
    """The contacts for whom the entry's event happened within its horizon after `as_of`: an
    engagement (going quiet is its absence), a deal open at `as_of` won, an order, a value taken."""
    horizon = entry.horizon_days
    if entry.outcome is Outcome.GOES_QUIET:
        happened = engagement_times(export, entry.engagement).filter(_within("at", as_of, horizon))
    elif entry.outcome is Outcome.DEAL_WON:
        won = (pl.col("status") == "won") & (pl.col("closed_at") <= as_of + timedelta(days=horizon))
        happened = deals_open_at(export, as_of).filter(won)
    elif entry.outcome is Outcome.ORDER_PLACED:
        happened = export.orders.lazy().filter(_within("ordered_at", as_of, horizon))
    elif entry.outcome in (Outcome.STAGE_REACHED, Outcome.FIELD_VALUE):
        field, value = entry.label_field
        taken = (pl.col("field") == field) & (pl.col("value") == value) & _within("changed_at", as_of, horizon)
        happened = export.contact_changes.lazy().filter(taken)
    else:
        raise ValueError(f"'{entry.name}' is a {entry.kind.value}: it is not labelled per contact")
    return happened.select(ENTITY_KEY).unique()


def held_labels(export: CrmExport, entry: ModelEntry, as_of: datetime) -> pl.LazyFrame:
    """A snapshot history's rows at `as_of` (`features.populations.held_at`), labelled 1 when
    the value a contact holds is the outcome's."""
    _, value = entry.label_field
    return held_at(export, entry, as_of).select(
        pl.col(ENTITY_KEY).cast(pl.Int64),
        pl.lit(as_of).cast(pl.Datetime("us")).alias(EVENT_TIMESTAMP),
        (pl.col("value") == value).fill_null(False).cast(pl.Int8).alias(LABEL),
    )


def outcome_labels(export: CrmExport, entry: ModelEntry, as_of_dates: list[datetime]) -> pl.DataFrame:
    """(contact_id, event_timestamp, label) for each contact of the entry's population at each
    `as_of`: 1 when the outcome happened within the horizon (for going quiet: when nothing did);
    for a snapshot history, 1 when the contact holds the outcome's value at `as_of`."""
    if entry.history is History.SNAPSHOT:
        return pl.concat(pl.collect_all([held_labels(export, entry, as_of) for as_of in as_of_dates])).sort(
            EVENT_TIMESTAMP, ENTITY_KEY
        )
    quiet = entry.outcome is Outcome.GOES_QUIET
    frames = []
    for as_of in as_of_dates:
        happened = happened_within(export, entry, as_of).with_columns(pl.lit(True).alias(_HAPPENED))
        reached = pl.col(_HAPPENED).is_null() if quiet else pl.col(_HAPPENED).is_not_null()
        frames.append(
            population_at(export, entry, as_of)
            .join(happened, on=ENTITY_KEY, how="left")
            .select(
                pl.col(ENTITY_KEY).cast(pl.Int64),
                pl.lit(as_of).cast(pl.Datetime("us")).alias(EVENT_TIMESTAMP),
                reached.cast(pl.Int8).alias(LABEL),
            )
        )
    return pl.concat(pl.collect_all(frames)).sort(EVENT_TIMESTAMP, ENTITY_KEY)
