"""Synthetic CRM exports of any size, generated vectorised (seconds for tens of millions of events).

Shapes and types are those `export_crm` produces (sorted by contact), so the benchmarks time the
product's transforms on the data layout they see in production.
"""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl

from crm_core.exports import (
    ACTIVITIES_SCHEMA,
    CONTACTS_SCHEMA,
    DEALS_SCHEMA,
    ORDERS_SCHEMA,
    TICKETS_SCHEMA,
    CrmExport,
)
from features.schema import CHANNELS

HISTORY_END = datetime(2026, 11, 1)
HISTORY_DAYS = 730
ACTIVITY_TYPES = ("email_sent", "email_open", "call", "meeting", "page_view", "chat_message")


def bare_contacts(count: int) -> pl.DataFrame:
    """`count` contacts with ids 1..count and nothing else: a table for write paths to point at."""
    return pl.DataFrame(
        {
            "id": range(1, count + 1),
            "first_name": ["Bare"] * count,
            "last_name": ["Contact"] * count,
            "lifecycle_stage": ["customer"] * count,
            "created_at": [datetime(2025, 1, 1)] * count,
        }
    )


def _owners(rng: np.random.Generator, weights: np.ndarray, count: int) -> np.ndarray:
    # Skewed like real CRMs: a few contacts have many events, most have a handful.
    return rng.choice(np.arange(1, weights.size + 1), size=count, p=weights)


def _frame(columns: dict[str, object], schema: pl.Schema) -> pl.DataFrame:
    return pl.DataFrame(columns).select([pl.col(name).cast(dtype) for name, dtype in schema.items()])


def synthetic_export(contacts: int, events: int, seed: int = 7) -> CrmExport:
    """`events` activities over `contacts` contacts, plus orders, tickets and deals at a tenth,
    a fiftieth and a hundredth of that."""
    rng = np.random.default_rng(seed)
    start = HISTORY_END - timedelta(days=HISTORY_DAYS)
    weights = rng.lognormal(0.0, 1.0, contacts)
    weights /= weights.sum()

    def stamps(count: int) -> pl.Series:
        offsets = rng.integers(0, HISTORY_DAYS * 86_400, count) * 1_000_000
        return pl.Series(offsets, dtype=pl.Int64).cast(pl.Duration("us")) + start

    def table(count: int, schema: pl.Schema, extra: dict[str, object]) -> pl.DataFrame:
        frame = pl.DataFrame({"contact_id": _owners(rng, weights, count), **extra})
        time_column = next(name for name, dtype in schema.items() if dtype == pl.Datetime("us"))
        return frame.select([pl.col(name).cast(dtype) for name, dtype in schema.items()]).sort(
            "contact_id", time_column
        )

    activities = table(
        events,
        ACTIVITIES_SCHEMA,
        {
            "type": rng.choice(ACTIVITY_TYPES, events),
            "channel": rng.choice(CHANNELS, events),
            "occurred_at": stamps(events),
        },
    )
    orders_n, tickets_n, deals_n = events // 10, events // 50, events // 100
    orders = table(orders_n, ORDERS_SCHEMA, {"ordered_at": stamps(orders_n), "total": rng.gamma(2.0, 60.0, orders_n)})
    opened = stamps(tickets_n)
    resolved = opened + pl.Series(rng.integers(1, 20 * 86_400, tickets_n) * 1_000_000).cast(pl.Duration("us"))
    tickets = table(
        tickets_n,
        TICKETS_SCHEMA,
        {
            "opened_at": opened,
            "resolved_at": resolved.to_frame("r").select(pl.when(rng.random(tickets_n) < 0.9).then("r")).to_series(),
            "satisfaction": rng.integers(1, 6, tickets_n),
        },
    )
    deal_opened = stamps(deals_n)
    closed = deal_opened + pl.Series(rng.integers(1, 120 * 86_400, deals_n) * 1_000_000).cast(pl.Duration("us"))
    status = rng.choice(("open", "won", "lost"), deals_n, p=(0.3, 0.3, 0.4))
    deals = table(
        deals_n,
        DEALS_SCHEMA,
        {
            "amount": rng.gamma(2.0, 2_000.0, deals_n).round(2),
            "status": status,
            "opened_at": deal_opened,
            "closed_at": closed.to_frame("c").select(pl.when(pl.Series(status) != "open").then("c")).to_series(),
        },
    )
    people = _frame({"contact_id": np.arange(1, contacts + 1), "created_at": stamps(contacts).sort()}, CONTACTS_SCHEMA)
    return CrmExport(contacts=people, activities=activities, orders=orders, tickets=tickets, deals=deals)
