"""Vectorised generator of a two-year CRM history driven by latent customer traits.

Each contact draws three hidden traits: engagement, value and satisfaction. Engagement drives
activity and orders, value drives spend and deal size, low satisfaction drives tickets. Churn
hazard rises as engagement and satisfaction fall; in the four months before a contact churns
their activity and orders fade and tickets pile up, so the features see the churn coming, with
noise. Everything is drawn from one seeded generator, so a seed is a data snapshot.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from crm_core.demo.consents import draw_consents
from crm_core.demo.deals import draw_deals
from crm_core.demo.timeline import HISTORY_DAYS, HISTORY_END, EventDraw, sigmoid, timestamps
from crm_core.entities import Channel

DEMO_TEAMS = 2

ACTIVITY_TYPES: list[tuple[str, Channel, float]] = [
    ("email_open", Channel.EMAIL, 0.33),
    ("email_click", Channel.EMAIL, 0.10),
    ("web_visit", Channel.WEB, 0.24),
    ("call", Channel.PHONE, 0.08),
    ("sms_reply", Channel.SMS, 0.05),
    ("chat", Channel.CHAT, 0.08),
    ("social_engagement", Channel.SOCIAL, 0.07),
    ("meeting", Channel.IN_PERSON, 0.05),
]
TICKET_CHANNELS = [Channel.EMAIL.value, Channel.PHONE.value, Channel.CHAT.value]
PRODUCT_CATEGORIES = ["software", "services", "hardware", "training", "support"]
PRODUCTS_PER_CATEGORY = 10
INDUSTRIES = ["retail", "finance", "health", "manufacturing", "media", "education"]
FIRST_NAMES = ["Ana", "Ben", "Chloe", "Dev", "Eva", "Femi", "Gus", "Hana", "Ivan", "Jia", "Kofi", "Lea"]
LAST_NAMES = ["Silva", "Okafor", "Martin", "Nguyen", "Kowalski", "Haddad", "Ito", "Berg", "Rossi", "Diaz"]


@dataclass(frozen=True)
class DemoConfig:
    contacts: int = 2_000
    seed: int = 7
    history_end: datetime = HISTORY_END
    # Multiplies every contact's rate of everyday activity (emails, visits, calls, ...); orders
    # and tickets keep their rates. At 1 a contact logs about 26 events over the two years
    # (20 activities); 2.2 gives about 50, the size goal of 50M events per 1M contacts.
    activity_scale: float = 1.0

    def __post_init__(self) -> None:
        if not self.activity_scale > 0:
            raise ValueError(f"activity_scale must be positive, got {self.activity_scale}")


def generate(config: DemoConfig) -> dict[str, pl.DataFrame]:
    """Tables keyed by name, in foreign-key order, with explicit ids (deterministic per seed)."""
    rng = np.random.default_rng(config.seed)
    n = config.contacts
    start = config.history_end - timedelta(days=HISTORY_DAYS)

    engagement = rng.normal(0.0, 1.0, n)
    value = rng.normal(0.0, 0.6, n)
    satisfaction = rng.normal(0.0, 1.0, n)
    created = rng.uniform(0.0, HISTORY_DAYS * 0.8, n)
    monthly_hazard = sigmoid(-3.4 - 0.9 * engagement - 0.7 * satisfaction + rng.normal(0.0, 0.5, n))
    churn = created + rng.exponential(30.0 / monthly_hazard)
    active_end = np.minimum(churn, HISTORY_DAYS)
    draw = EventDraw(rng, created, active_end, churn)

    users = _users(max(5, n // 400), start)
    accounts = _accounts(rng, max(1, n // 4), users.height, start)
    account_of = rng.integers(1, accounts.height + 1, n)
    owner_of = accounts["owner_id"].to_numpy()[account_of - 1]

    activities = _activities(rng, draw, config.activity_scale * np.exp(0.6 * engagement), start)
    products = _products(rng)
    orders, order_lines = _orders(rng, draw, engagement, value, start, products)
    tickets = _tickets(rng, draw, satisfaction, churn, start)
    deals, stage_history = draw_deals(rng, engagement, value, created, active_end, account_of, owner_of, start)

    buyers = set(orders["contact_id"].to_list())
    ids = np.arange(1, n + 1)
    first = np.array(FIRST_NAMES)[rng.integers(0, len(FIRST_NAMES), n)]
    last = np.array(LAST_NAMES)[rng.integers(0, len(LAST_NAMES), n)]
    contacts = pl.DataFrame(
        {
            "id": ids,
            "account_id": account_of,
            "owner_id": owner_of,
            "first_name": first,
            "last_name": last,
            "email": [
                f"{f.lower()}.{surname.lower()}.{i}@example.com" for f, surname, i in zip(first, last, ids, strict=True)
            ],
            "phone": [f"+1555{p:07d}" for p in rng.integers(0, 10_000_000, n)],
            "lifecycle_stage": ["customer" if i in buyers else "lead" for i in ids],
            "created_at": timestamps(start, created),
        }
    )
    return {
        "teams": pl.DataFrame(
            {"id": list(range(1, DEMO_TEAMS + 1)), "name": [f"Team {i}" for i in range(1, DEMO_TEAMS + 1)]}
        ),
        "users": users,
        "accounts": accounts,
        "contacts": contacts,
        "products": products,
        "activities": activities,
        "orders": orders,
        "order_lines": order_lines,
        "tickets": tickets,
        "deals": deals,
        "deal_stage_history": stage_history,
        "consents": draw_consents(np.random.default_rng([config.seed, 1]), n, created, start),
    }


def _users(count: int, start: datetime) -> pl.DataFrame:
    ids = np.arange(1, count + 1)
    return pl.DataFrame(
        {
            "id": ids,
            "email": [f"rep{i}@crm-intel.example" for i in ids],
            "full_name": [f"Sales Rep {i}" for i in ids],
            "role": ["sales_rep"] * count,
            "team_id": (ids - 1) % DEMO_TEAMS + 1,
            "created_at": [start] * count,
        }
    )


def _accounts(rng: np.random.Generator, count: int, users: int, start: datetime) -> pl.DataFrame:
    ids = np.arange(1, count + 1)
    return pl.DataFrame(
        {
            "id": ids,
            "name": [f"Account {i}" for i in ids],
            "industry": np.array(INDUSTRIES)[rng.integers(0, len(INDUSTRIES), count)],
            "owner_id": rng.integers(1, users + 1, count),
            "created_at": [start] * count,
        }
    )


def _activities(rng: np.random.Generator, draw: EventDraw, busyness: np.ndarray, start: datetime) -> pl.DataFrame:
    owner, when = draw.events(0.05 * busyness, fade_floor=0.2)
    weights = np.array([w for _, _, w in ACTIVITY_TYPES])
    kind = rng.choice(len(ACTIVITY_TYPES), size=len(owner), p=weights / weights.sum())
    frame = pl.DataFrame(
        {
            "contact_id": owner + 1,
            "type": np.array([t for t, _, _ in ACTIVITY_TYPES])[kind],
            "channel": np.array([c.value for _, c, _ in ACTIVITY_TYPES])[kind],
            "occurred_at": timestamps(start, when),
        }
    ).sort("contact_id", "occurred_at")
    return frame.with_row_index("id", offset=1).with_columns(pl.col("id").cast(pl.Int64))


def _products(rng: np.random.Generator) -> pl.DataFrame:
    count = len(PRODUCT_CATEGORIES) * PRODUCTS_PER_CATEGORY
    ids = np.arange(1, count + 1)
    return pl.DataFrame(
        {
            "id": ids,
            "sku": [f"SKU-{i:05d}" for i in ids],
            "name": [f"{PRODUCT_CATEGORIES[(i - 1) // PRODUCTS_PER_CATEGORY].title()} item {i}" for i in ids],
            "category": [PRODUCT_CATEGORIES[(i - 1) // PRODUCTS_PER_CATEGORY] for i in ids],
            "unit_price": np.round(rng.lognormal(4.0, 0.8, count), 2),
        }
    )


def _orders(
    rng: np.random.Generator,
    draw: EventDraw,
    engagement: np.ndarray,
    value: np.ndarray,
    start: datetime,
    products: pl.DataFrame,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    owner, when = draw.events(0.012 * np.exp(0.5 * engagement + 0.3 * value), fade_floor=0.1)
    order_ids = np.arange(1, len(owner) + 1)
    lines_per_order = 1 + rng.poisson(0.8, len(owner))
    line_order = np.repeat(np.arange(len(owner)), lines_per_order)
    favourite_category = rng.integers(0, len(PRODUCT_CATEGORIES), len(engagement))
    category = np.where(
        rng.random(len(line_order)) < 0.6,
        favourite_category[owner[line_order]],
        rng.integers(0, len(PRODUCT_CATEGORIES), len(line_order)),
    )
    rank = np.minimum(rng.zipf(1.6, len(line_order)), PRODUCTS_PER_CATEGORY) - 1
    product_id = category * PRODUCTS_PER_CATEGORY + rank + 1
    prices = products["unit_price"].to_numpy()[product_id - 1]
    quantity = 1 + rng.poisson(0.5 * np.exp(value[owner[line_order]]))
    lines = pl.DataFrame(
        {
            "id": np.arange(1, len(line_order) + 1),
            "order_id": order_ids[line_order],
            "product_id": product_id,
            "quantity": quantity,
            "unit_price": prices,
        }
    )
    totals = (
        lines.group_by("order_id")
        .agg((pl.col("quantity") * pl.col("unit_price")).sum().round(2).alias("total"))
        .sort("order_id")
    )
    orders = pl.DataFrame(
        {
            "id": order_ids,
            "contact_id": owner + 1,
            "ordered_at": timestamps(start, when),
            "status": ["completed"] * len(owner),
        }
    ).join(totals, left_on="id", right_on="order_id", how="left")
    return orders, lines


def _tickets(
    rng: np.random.Generator, draw: EventDraw, satisfaction: np.ndarray, churn: np.ndarray, start: datetime
) -> pl.DataFrame:
    owner, when = draw.events(0.004 * np.exp(-0.7 * satisfaction), fade_floor=1.0)
    # Frustration before leaving: extra tickets in the two months before churn.
    leaving = np.flatnonzero(churn < HISTORY_DAYS)
    extra = rng.poisson(np.clip(0.8 - 0.5 * satisfaction[leaving], 0.0, None))
    extra_owner = np.repeat(leaving, extra)
    extra_when = churn[extra_owner] - rng.uniform(0.0, 60.0, len(extra_owner))
    valid = extra_when > draw.start[extra_owner]
    owner = np.concatenate([owner, extra_owner[valid]])
    when = np.concatenate([when, extra_when[valid]])
    count = len(owner)
    resolve_days = rng.exponential(2.5, count)
    resolved = (when + resolve_days < HISTORY_DAYS) & (rng.random(count) < 0.95)
    score = np.clip(np.round(3.2 + 1.1 * satisfaction[owner] + rng.normal(0.0, 0.8, count)), 1, 5)
    frame = pl.DataFrame(
        {
            "contact_id": owner + 1,
            "channel": np.array(TICKET_CHANNELS)[rng.integers(0, len(TICKET_CHANNELS), count)],
            "priority": np.array(["low", "normal", "high"])[rng.choice(3, count, p=[0.3, 0.5, 0.2])],
            "status": np.where(resolved, "resolved", "open"),
            "subject": ["Support request"] * count,
            "opened_at": timestamps(start, when),
            "resolved_at": timestamps(start, when + resolve_days),
            "satisfaction": score.astype(np.int64),
        }
    ).with_columns(
        pl.when(pl.col("status") == "resolved").then(pl.col("resolved_at")).alias("resolved_at"),
        pl.when(pl.col("status") == "resolved").then(pl.col("satisfaction")).alias("satisfaction"),
    )
    return (
        frame.sort("contact_id", "opened_at").with_row_index("id", offset=1).with_columns(pl.col("id").cast(pl.Int64))
    )
