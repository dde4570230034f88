"""Pure polars transforms from CRM exports to contact features at an explicit `as_of`.

Every transform is LazyFrame -> LazyFrame and sees only events at or before `as_of`; nothing
here reads a clock, so the same inputs and `as_of` always give the same features, in training
and in serving alike. Windows are half-open: (as_of - N days, as_of].
"""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl

from features.schema import CHANNELS, CONTACT_FEATURES_SCHEMA, ENTITY_KEY, EVENT_TIMESTAMP, WINDOWS_DAYS, channel_slug

DAY_MICROSECONDS = 86_400_000_000


def cents(column: str) -> pl.Expr:
    """Money as integer cents: integer sums are exact, so features are bit-for-bit reproducible
    whatever order a parallel group-by adds them in (float sums are not)."""
    return (pl.col(column) * 100).round(0).cast(pl.Int64)


def in_window(column: str, *, as_of: datetime, days: int) -> pl.Expr:
    return pl.col(column) > as_of - timedelta(days=days)


def days_before(column: str, *, as_of: datetime) -> pl.Expr:
    # Rounded to a millionth of a day (< 0.1 s): vectorised division may differ in the last bit
    # between runs, and training sets must hash the same when their data is the same.
    return ((pl.lit(as_of) - pl.col(column)).dt.total_microseconds() / DAY_MICROSECONDS).round(6)


def count_where(condition: pl.Expr) -> pl.Expr:
    return condition.cast(pl.Int64).sum()


def activity_features(activities: pl.LazyFrame, *, as_of: datetime) -> pl.LazyFrame:
    aggregations: list[pl.Expr] = []
    for days in WINDOWS_DAYS:
        recent = in_window("occurred_at", as_of=as_of, days=days)
        aggregations.append(count_where(recent).alias(f"activities_count_{days}d"))
        aggregations.extend(
            count_where(recent & (pl.col("channel") == channel)).alias(
                f"{channel_slug(channel)}_activities_count_{days}d"
            )
            for channel in CHANNELS
        )
        aggregations.append(
            count_where(recent & (pl.col("type") == "email_open")).alias(f"emails_opened_count_{days}d")
        )
    aggregations.append(days_before("occurred_at", as_of=as_of).min().alias("days_since_last_activity"))
    return activities.filter(pl.col("occurred_at") <= as_of).group_by(ENTITY_KEY).agg(aggregations)


def order_features(orders: pl.LazyFrame, *, as_of: datetime) -> pl.LazyFrame:
    last_90 = in_window("ordered_at", as_of=as_of, days=90)
    last_365 = in_window("ordered_at", as_of=as_of, days=365)
    return (
        orders.filter(pl.col("ordered_at") <= as_of)
        .group_by(ENTITY_KEY)
        .agg(
            days_before("ordered_at", as_of=as_of).min().alias("days_since_last_order"),
            count_where(last_90).alias("orders_count_90d"),
            count_where(last_365).alias("orders_count_365d"),
            (cents("total").filter(last_90).sum() / 100).alias("order_value_90d"),
            (cents("total").filter(last_365).sum() / 100).alias("order_value_365d"),
            (cents("total").sum() / 100).alias("order_value_lifetime"),
            pl.when(count_where(last_365) > 0)
            .then(cents("total").filter(last_365).sum() / count_where(last_365) / 100)
            .alias("avg_order_value_365d"),
        )
    )


def ticket_features(tickets: pl.LazyFrame, *, as_of: datetime) -> pl.LazyFrame:
    # Satisfaction is only known once a ticket is resolved: count it from its resolution time.
    resolved_by_as_of = pl.col("resolved_at").is_not_null() & (pl.col("resolved_at") <= as_of)
    return (
        tickets.filter(pl.col("opened_at") <= as_of)
        .group_by(ENTITY_KEY)
        .agg(
            count_where(in_window("opened_at", as_of=as_of, days=30)).alias("tickets_opened_count_30d"),
            count_where(in_window("opened_at", as_of=as_of, days=90)).alias("tickets_opened_count_90d"),
            count_where(~resolved_by_as_of).alias("open_tickets_count"),
            pl.col("satisfaction")
            .filter(resolved_by_as_of & in_window("resolved_at", as_of=as_of, days=180))
            .mean()
            .alias("avg_satisfaction_180d"),
        )
    )


def deal_features(deals: pl.LazyFrame, *, as_of: datetime) -> pl.LazyFrame:
    open_at_as_of = pl.col("closed_at").is_null() | (pl.col("closed_at") > as_of)
    won_last_year = (
        (pl.col("status") == "won")
        & pl.col("closed_at").is_not_null()
        & (pl.col("closed_at") <= as_of)
        & in_window("closed_at", as_of=as_of, days=365)
    )
    return (
        deals.filter(pl.col("opened_at") <= as_of)
        .group_by(ENTITY_KEY)
        .agg(
            count_where(open_at_as_of).alias("open_deals_count"),
            (cents("amount").filter(open_at_as_of).sum() / 100).alias("open_deal_value"),
            (cents("amount").filter(won_last_year).sum() / 100).alias("won_deal_value_365d"),
        )
    )


def contact_features(
    contacts: pl.LazyFrame,
    activities: pl.LazyFrame,
    orders: pl.LazyFrame,
    tickets: pl.LazyFrame,
    deals: pl.LazyFrame,
    *,
    as_of: datetime,
) -> pl.LazyFrame:
    """One row per contact that existed at `as_of`, with every feature in the pinned schema."""
    spine = contacts.filter(pl.col("created_at") <= as_of).select(
        ENTITY_KEY,
        pl.lit(as_of).cast(pl.Datetime("us")).alias(EVENT_TIMESTAMP),
        days_before("created_at", as_of=as_of).alias("tenure_days"),
    )
    joined = (
        spine.join(activity_features(activities, as_of=as_of), on=ENTITY_KEY, how="left")
        .join(order_features(orders, as_of=as_of), on=ENTITY_KEY, how="left")
        .join(ticket_features(tickets, as_of=as_of), on=ENTITY_KEY, how="left")
        .join(deal_features(deals, as_of=as_of), on=ENTITY_KEY, how="left")
    )
    # Counts and sums of nothing are zero; recency and averages of nothing stay null (unknown).
    zero_when_absent = [
        name
        for name, dtype in CONTACT_FEATURES_SCHEMA.items()
        if name not in (ENTITY_KEY, EVENT_TIMESTAMP)
        and (dtype == pl.Int64 or "value" in name)
        and not name.startswith("avg_")
    ]
    return joined.with_columns(pl.col(zero_when_absent).fill_null(0)).select(
        [pl.col(name).cast(dtype) for name, dtype in CONTACT_FEATURES_SCHEMA.items()]
    )
