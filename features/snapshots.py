"""Feature snapshots: the transforms evaluated at a grid of `as_of` dates, stored as Parquet.

Each snapshot row carries `event_timestamp = as_of`, which is what Feast's point-in-time join
keys on: a training row at time t only ever sees the latest snapshot at or before t.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl

from crm_core.errors import CrmError
from crm_core.exports import CrmExport
from features.custom_inputs import CustomInput, custom_values, with_custom_values
from features.schema import EVENT_TIMESTAMP, assert_schema
from features.transforms import contact_features


class NoActivityError(CrmError, ValueError):
    """The CRM holds no events to compute features from."""


def dated_events(export: CrmExport) -> pl.DataFrame:
    """(contact_id, at) of everything the CRM dates: activities, orders, tickets, deals opening
    and closing, changes of stage or custom value."""
    return pl.concat(
        [
            export.activities.select("contact_id", pl.col("occurred_at").alias("at")),
            export.orders.select("contact_id", pl.col("ordered_at").alias("at")),
            export.tickets.select("contact_id", pl.col("opened_at").alias("at")),
            export.deals.select("contact_id", pl.col("opened_at").alias("at")),
            export.deals.select("contact_id", pl.col("closed_at").alias("at")).drop_nulls("at"),
            export.contact_changes.select("contact_id", pl.col("changed_at").alias("at")),
        ]
    )


def data_end(export: CrmExport) -> datetime:
    """Midnight after the newest thing the CRM knows: its newest dated event, or the creation
    of a contact nothing else dates (a labelled list imported with no events exists from then).
    Outcomes recorded only as deals won or stages reached count: without them a funnel whose
    last lead arrived in May but whose wins run to November would end in May, and no label
    could look past it."""
    dated = dated_events(export)
    undated = export.contacts.join(dated.select("contact_id").unique(), on="contact_id", how="anti")
    candidates = [dated["at"].max(), undated["created_at"].max()]
    latest = max((value for value in candidates if isinstance(value, datetime)), default=None)
    if latest is None:
        raise NoActivityError("the CRM has no contacts, activities, orders or tickets to compute features from")
    return datetime(latest.year, latest.month, latest.day) + timedelta(days=1)


def snapshot_dates(end: datetime, *, count: int, step_days: int) -> list[datetime]:
    """`count` dates, oldest first, ending at `end`, `step_days` apart."""
    return [end - timedelta(days=step_days * k) for k in reversed(range(count))]


def build_snapshots(export: CrmExport, as_of_dates: list[datetime], custom: Sequence[CustomInput] = ()) -> pl.DataFrame:
    """The pinned features at each date, then the `custom` inputs the data home's models take."""
    frames = [
        contact_features(
            export.contacts.lazy(),
            export.activities.lazy(),
            export.orders.lazy(),
            export.tickets.lazy(),
            export.deals.lazy(),
            as_of=as_of,
        )
        for as_of in as_of_dates
    ]
    pinned = pl.concat(pl.collect_all(frames))
    values = custom_values(export, custom, as_of_dates)
    return assert_schema(with_custom_values(pinned, values, custom).sort("event_timestamp", "contact_id"))


def replace_parquet(frame: pl.DataFrame, path: Path) -> None:
    """Write `frame` to `path` beside it, then rename: a reader (Feast, batch scoring) sees the
    old file or the new one, never a half-written one. Snapshots and populations both go here."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".parquet.partial")
    frame.write_parquet(partial)
    partial.replace(path)


def newest_snapshot(path: Path) -> tuple[datetime, pl.LazyFrame]:
    """The newest `as_of` in the offline store and its rows (lazily): what batch scoring, the
    populations and the behaviour segments all read."""
    scan = pl.scan_parquet(path)
    as_of = scan.select(pl.col(EVENT_TIMESTAMP).max()).collect().item()
    return as_of, scan.filter(pl.col(EVENT_TIMESTAMP) == as_of)


def available_snapshot_dates(path: Path) -> list[datetime]:
    """The `as_of` dates present in the offline store, oldest first."""
    if not path.exists():
        return []
    dates = pl.scan_parquet(path).select(pl.col("event_timestamp").unique().sort()).collect().to_series()
    return list(dates.to_list())
