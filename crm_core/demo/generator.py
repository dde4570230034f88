"""Vectorised generator of a two-year CRM history driven by latent customer traits.

Each contact draws three hidden traits: engagement, value and satisfaction. Engagement drives
activity and orders, value drives spend and deal size, low satisfaction drives tickets. Churn
hazard rises as engagement and satisfaction fall; in the four months before a contact churns
their activity and orders fade and tickets pile up, so the features see the churn coming, with
noise. Everything is drawn from one seeded generator, so a seed is a data snapshot.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta

import numpy as np
import polars as pl

from crm_core.entities import DEAL_STAGE_ORDER, Channel, DealStage

HISTORY_END = datetime(2026, 11, 1)
DEMO_TEAMS = 2
HISTORY_DAYS = 730
FADE_DAYS = 120

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
OPEN_PIPELINE = [DealStage.PROSPECTING, DealStage.QUALIFICATION, DealStage.PROPOSAL, DealStage.NEGOTIATION]


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


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def _timestamps(start: datetime, offsets_days: np.ndarray) -> pl.Series:
    """Naive-UTC timestamps `offsets_days` after `start`, at microsecond precision."""
    start_micros = calendar.timegm(start.timetuple()) * 1_000_000
    micros = start_micros + np.round(np.asarray(offsets_days, dtype=np.float64) * 86_400_000_000).astype(np.int64)
    return pl.Series(micros, dtype=pl.Int64).cast(pl.Datetime("us"))


class _Draw:
    """Events for many contacts at once: a Poisson count each, times uniform in their window,
    thinned near churn so activity fades before a customer leaves."""

    def __init__(self, rng: np.random.Generator, start: np.ndarray, end: np.ndarray, churn: np.ndarray) -> None:
        self.rng, self.start, self.end, self.churn = rng, start, end, churn

    def events(self, rate_per_day: np.ndarray, fade_floor: float) -> tuple[np.ndarray, np.ndarray]:
        span = np.maximum(self.end - self.start, 0.0)
        counts = self.rng.poisson(rate_per_day * span)
        owner = np.repeat(np.arange(len(counts)), counts)
        when = self.start[owner] + self.rng.random(len(owner)) * span[owner]
        days_to_churn = self.churn[owner] - when
        keep_probability = fade_floor + (1 - fade_floor) * np.clip(days_to_churn / FADE_DAYS, 0.0, 1.0)
        keep = self.rng.random(len(owner)) < keep_probability
        return owner[keep], when[keep]


def generate(config: DemoConfig) -> dict[str, pl.DataFrame]:
    """Tables keyed by name, in foreign-key order, with explicit ids (deterministic per seed)."""
    rng = np.random.default_rng(config.seed)
    n = config.contacts
    start = config.history_end - timedelta(days=HISTORY_DAYS)

    engagement = rng.normal(0.0, 1.0, n)
    value = rng.normal(0.0, 0.6, n)
    satisfaction = rng.normal(0.0, 1.0, n)
    created = rng.uniform(0.0, HISTORY_DAYS * 0.8, n)
    monthly_hazard = _sigmoid(-3.4 - 0.9 * engagement - 0.7 * satisfaction + rng.normal(0.0, 0.5, n))
    churn = created + rng.exponential(30.0 / monthly_hazard)
    active_end = np.minimum(churn, HISTORY_DAYS)
    draw = _Draw(rng, created, active_end, churn)

    users = _users(max(5, n // 400), start)
    accounts = _accounts(rng, max(1, n // 4), users.height, start)
    account_of = rng.integers(1, accounts.height + 1, n)
    owner_of = accounts["owner_id"].to_numpy()[account_of - 1]

    activities = _activities(rng, draw, config.activity_scale * np.exp(0.6 * engagement), start)
    products = _products(rng)
    orders, order_lines = _orders(rng, draw, engagement, value, start, products)
    tickets = _tickets(rng, draw, satisfaction, churn, start)
    deals, stage_history = _deals(rng, engagement, value, created, active_end, account_of, owner_of, start)

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
            "created_at": _timestamps(start, created),
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
        "consents": _consents(np.random.default_rng([config.seed, 1]), n, created, start),
    }


# Share of people who opted in per channel when they signed up, and who later withdrew email.
OPT_IN = {"email": 0.65, "sms": 0.3, "phone": 0.2}
EMAIL_WITHDRAWN = 0.08


def _consents(rng: np.random.Generator, n: int, created: np.ndarray, start: datetime) -> pl.DataFrame:
    """Opt-ins recorded at sign-up, and some email opt-outs later: marketing audiences are
    filtered by the newest decision per channel, so the demo needs both. A separate random
    stream keeps every other demo table identical to earlier versions for the same seed."""
    contact_ids, channels, statuses, days = [], [], [], []
    for channel, share in OPT_IN.items():
        opted = np.flatnonzero(rng.random(n) < share)
        contact_ids.append(opted + 1)
        channels += [channel] * len(opted)
        statuses += ["granted"] * len(opted)
        days.append(created[opted])
        if channel == "email":
            withdrawn = opted[rng.random(len(opted)) < EMAIL_WITHDRAWN]
            contact_ids.append(withdrawn + 1)
            channels += [channel] * len(withdrawn)
            statuses += ["withdrawn"] * len(withdrawn)
            days.append(np.minimum(created[withdrawn] + rng.uniform(1.0, 200.0, len(withdrawn)), HISTORY_DAYS - 1))
    ids = np.concatenate(contact_ids)
    return pl.DataFrame(
        {
            "id": np.arange(1, len(ids) + 1),
            "contact_id": ids,
            "channel": channels,
            "status": statuses,
            "source": ["demo sign-up form"] * len(ids),
            "recorded_at": _timestamps(start, np.concatenate(days)),
        }
    )


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


def _activities(rng: np.random.Generator, draw: _Draw, busyness: np.ndarray, start: datetime) -> pl.DataFrame:
    owner, when = draw.events(0.05 * busyness, fade_floor=0.2)
    weights = np.array([w for _, _, w in ACTIVITY_TYPES])
    kind = rng.choice(len(ACTIVITY_TYPES), size=len(owner), p=weights / weights.sum())
    frame = pl.DataFrame(
        {
            "contact_id": owner + 1,
            "type": np.array([t for t, _, _ in ACTIVITY_TYPES])[kind],
            "channel": np.array([c.value for _, c, _ in ACTIVITY_TYPES])[kind],
            "occurred_at": _timestamps(start, when),
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
    draw: _Draw,
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
            "ordered_at": _timestamps(start, when),
            "status": ["completed"] * len(owner),
        }
    ).join(totals, left_on="id", right_on="order_id", how="left")
    return orders, lines


def _tickets(
    rng: np.random.Generator, draw: _Draw, satisfaction: np.ndarray, churn: np.ndarray, start: datetime
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
            "opened_at": _timestamps(start, when),
            "resolved_at": _timestamps(start, when + resolve_days),
            "satisfaction": score.astype(np.int64),
        }
    ).with_columns(
        pl.when(pl.col("status") == "resolved").then(pl.col("resolved_at")).alias("resolved_at"),
        pl.when(pl.col("status") == "resolved").then(pl.col("satisfaction")).alias("satisfaction"),
    )
    return (
        frame.sort("contact_id", "opened_at").with_row_index("id", offset=1).with_columns(pl.col("id").cast(pl.Int64))
    )


def _deals(
    rng: np.random.Generator,
    engagement: np.ndarray,
    value: np.ndarray,
    created: np.ndarray,
    active_end: np.ndarray,
    account_of: np.ndarray,
    owner_of: np.ndarray,
    start: datetime,
) -> tuple[pl.DataFrame, pl.DataFrame]:
    contact = np.flatnonzero(rng.random(len(engagement)) < 0.35)
    count = len(contact)
    opened = created[contact] + rng.random(count) * np.maximum(active_end[contact] - created[contact], 0.0)
    duration = rng.exponential(45.0, count)
    closed = opened + duration < HISTORY_DAYS
    won = rng.random(count) < _sigmoid(-0.6 + 0.8 * engagement[contact] + 0.5 * value[contact])
    reached = np.where(
        closed,
        np.where(won, len(OPEN_PIPELINE), rng.integers(1, len(OPEN_PIPELINE) + 1, count)),
        np.clip(1 + ((HISTORY_DAYS - opened) / 15).astype(np.int64), 1, len(OPEN_PIPELINE)),
    )
    final_stage = np.where(
        closed,
        np.where(won, DealStage.CLOSED_WON.value, DealStage.CLOSED_LOST.value),
        np.array([s.value for s in OPEN_PIPELINE])[reached - 1],
    )
    deal_ids = np.arange(1, count + 1)
    deals = pl.DataFrame(
        {
            "id": deal_ids,
            "account_id": account_of[contact],
            "contact_id": contact + 1,
            "owner_id": owner_of[contact],
            "name": [f"Deal {i}" for i in deal_ids],
            "amount": np.round(rng.lognormal(8.0, 0.7, count) * np.exp(value[contact]), 2),
            "stage": final_stage,
            "status": np.where(closed, np.where(won, "won", "lost"), "open"),
            "opened_at": _timestamps(start, opened),
            "closed_at": _timestamps(start, opened + duration),
        }
    ).with_columns(pl.when(pl.col("status") != "open").then(pl.col("closed_at")).alias("closed_at"))
    history = _stage_history(deal_ids, reached, closed, final_stage, opened, duration, start)
    return deals, history


def _stage_history(
    deal_ids: np.ndarray,
    reached: np.ndarray,
    closed: np.ndarray,
    final_stage: np.ndarray,
    opened: np.ndarray,
    duration: np.ndarray,
    start: datetime,
) -> pl.DataFrame:
    steps = reached + closed.astype(np.int64)
    deal = np.repeat(np.arange(len(deal_ids)), steps)
    position = np.arange(len(deal)) - np.repeat(np.cumsum(steps) - steps, steps)
    pipeline = np.array([s.value for s in OPEN_PIPELINE])
    is_close = position >= reached[deal]
    to_stage = np.where(is_close, final_stage[deal], pipeline[np.minimum(position, len(pipeline) - 1)])
    from_stage = np.where(
        position == 0, None, np.where(is_close, pipeline[reached[deal] - 1], pipeline[np.maximum(position - 1, 0)])
    )
    at = opened[deal] + duration[deal] * position / np.maximum(steps[deal] - (~closed[deal]).astype(np.int64), 1)
    at = np.minimum(at, HISTORY_DAYS - 1e-3)
    frame = pl.DataFrame(
        {
            "deal_id": deal_ids[deal],
            "from_stage": list(from_stage),
            "to_stage": to_stage,
            "changed_at": _timestamps(start, at),
        },
        schema_overrides={"from_stage": pl.String},
    )
    assert set(frame["to_stage"].unique().to_list()) <= {s.value for s in DEAL_STAGE_ORDER}
    return frame.with_row_index("id", offset=1).with_columns(pl.col("id").cast(pl.Int64))
