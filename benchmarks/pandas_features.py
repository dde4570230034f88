"""The baseline: the same contact features written the straightforward pandas way (boolean
indicator columns, one group-by per table, left merges), as a user would without polars.

Same definitions as `features.transforms` (windows, integer cents, rounded day counts), so the
benchmark can assert both produce the same frame before comparing their times.
"""

from __future__ import annotations

from datetime import datetime

import pandas as pd
import polars as pl

from crm_core.exports import CrmExport
from features.schema import CHANNELS, CONTACT_FEATURES_SCHEMA, ENTITY_KEY, EVENT_TIMESTAMP, WINDOWS_DAYS, channel_slug

DAY_US = 86_400_000_000


def pandas_tables(export: CrmExport) -> dict[str, pd.DataFrame]:
    """The export as pandas frames (converted once, outside the timed part)."""
    return {
        name: getattr(export, name).to_pandas() for name in ("contacts", "activities", "orders", "tickets", "deals")
    }


def _days_before(times: pd.Series, as_of: datetime) -> pd.Series:
    microseconds = (pd.Timestamp(as_of) - times).to_numpy().astype("timedelta64[us]").astype("int64")
    return pd.Series(microseconds / DAY_US, index=times.index).round(6)


def _after(times: pd.Series, as_of: datetime, days: int) -> pd.Series:
    return times > pd.Timestamp(as_of) - pd.Timedelta(days=days)


def _cents(values: pd.Series) -> pd.Series:
    return (values * 100).round(0).astype("int64")


def _activities(activities: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    seen = activities[activities["occurred_at"] <= pd.Timestamp(as_of)]
    columns: dict[str, pd.Series] = {}
    for days in WINDOWS_DAYS:
        recent = _after(seen["occurred_at"], as_of, days)
        columns[f"activities_count_{days}d"] = recent
        for channel in CHANNELS:
            columns[f"{channel_slug(channel)}_activities_count_{days}d"] = recent & (seen["channel"] == channel)
        columns[f"emails_opened_count_{days}d"] = recent & (seen["type"] == "email_open")
    indicators = pd.DataFrame(columns).astype("int64")
    indicators[ENTITY_KEY] = seen[ENTITY_KEY].to_numpy()
    counts = indicators.groupby(ENTITY_KEY).sum()
    counts["days_since_last_activity"] = _days_before(seen["occurred_at"], as_of).groupby(seen[ENTITY_KEY]).min()
    return counts


def _orders(orders: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    seen = orders[orders["ordered_at"] <= pd.Timestamp(as_of)].copy()
    seen["cents"] = _cents(seen["total"])
    seen["days"] = _days_before(seen["ordered_at"], as_of)
    seen["in_90"] = _after(seen["ordered_at"], as_of, 90).astype("int64")
    seen["in_365"] = _after(seen["ordered_at"], as_of, 365).astype("int64")
    seen["cents_90"] = seen["cents"] * seen["in_90"]
    seen["cents_365"] = seen["cents"] * seen["in_365"]
    grouped = seen.groupby(ENTITY_KEY).agg(
        days_since_last_order=("days", "min"),
        orders_count_90d=("in_90", "sum"),
        orders_count_365d=("in_365", "sum"),
        cents_90=("cents_90", "sum"),
        cents_365=("cents_365", "sum"),
        cents_all=("cents", "sum"),
    )
    out = grouped[["days_since_last_order", "orders_count_90d", "orders_count_365d"]].copy()
    out["order_value_90d"] = grouped["cents_90"] / 100
    out["order_value_365d"] = grouped["cents_365"] / 100
    out["order_value_lifetime"] = grouped["cents_all"] / 100
    with_orders = grouped["orders_count_365d"] > 0
    out["avg_order_value_365d"] = (grouped["cents_365"] / grouped["orders_count_365d"] / 100).where(with_orders)
    return out


def _tickets(tickets: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    seen = tickets[tickets["opened_at"] <= pd.Timestamp(as_of)].copy()
    resolved = seen["resolved_at"].notna() & (seen["resolved_at"] <= pd.Timestamp(as_of))
    seen["opened_30"] = _after(seen["opened_at"], as_of, 30).astype("int64")
    seen["opened_90"] = _after(seen["opened_at"], as_of, 90).astype("int64")
    seen["still_open"] = (~resolved).astype("int64")
    seen["rated"] = seen["satisfaction"].where(resolved & _after(seen["resolved_at"], as_of, 180))
    return seen.groupby(ENTITY_KEY).agg(
        tickets_opened_count_30d=("opened_30", "sum"),
        tickets_opened_count_90d=("opened_90", "sum"),
        open_tickets_count=("still_open", "sum"),
        avg_satisfaction_180d=("rated", "mean"),
    )


def _deals(deals: pd.DataFrame, as_of: datetime) -> pd.DataFrame:
    seen = deals[deals["opened_at"] <= pd.Timestamp(as_of)].copy()
    open_then = seen["closed_at"].isna() | (seen["closed_at"] > pd.Timestamp(as_of))
    won = (
        (seen["status"] == "won")
        & seen["closed_at"].notna()
        & (seen["closed_at"] <= pd.Timestamp(as_of))
        & _after(seen["closed_at"], as_of, 365)
    )
    cents = _cents(seen["amount"])
    seen["open"] = open_then.astype("int64")
    seen["open_cents"] = cents * seen["open"]
    seen["won_cents"] = cents * won.astype("int64")
    grouped = seen.groupby(ENTITY_KEY).agg(
        open_deals_count=("open", "sum"), open_cents=("open_cents", "sum"), won_cents=("won_cents", "sum")
    )
    return pd.DataFrame(
        {
            "open_deals_count": grouped["open_deals_count"],
            "open_deal_value": grouped["open_cents"] / 100,
            "won_deal_value_365d": grouped["won_cents"] / 100,
        }
    )


def contact_features_pandas(tables: dict[str, pd.DataFrame], as_of: datetime) -> pd.DataFrame:
    contacts = tables["contacts"]
    alive = contacts[contacts["created_at"] <= pd.Timestamp(as_of)]
    frame = pd.DataFrame(
        {
            ENTITY_KEY: alive[ENTITY_KEY].to_numpy(),
            EVENT_TIMESTAMP: pd.Timestamp(as_of),
            "tenure_days": _days_before(alive["created_at"], as_of).to_numpy(),
        }
    )
    for part in (
        _activities(tables["activities"], as_of),
        _orders(tables["orders"], as_of),
        _tickets(tables["tickets"], as_of),
        _deals(tables["deals"], as_of),
    ):
        frame = frame.merge(part, left_on=ENTITY_KEY, right_index=True, how="left")
    for name, dtype in CONTACT_FEATURES_SCHEMA.items():
        zero_when_absent = (dtype == pl.Int64 or "value" in name) and not name.startswith("avg_")
        if name not in (ENTITY_KEY, EVENT_TIMESTAMP) and zero_when_absent:
            frame[name] = frame[name].fillna(0)
    return frame[list(CONTACT_FEATURES_SCHEMA)]


def as_polars(frame: pd.DataFrame) -> pl.DataFrame:
    """The pandas result in the pinned schema, for an exact comparison with ours."""
    converted = pl.from_pandas(frame)
    return converted.select([pl.col(name).cast(dtype) for name, dtype in CONTACT_FEATURES_SCHEMA.items()])
