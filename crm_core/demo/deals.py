"""Demo deals and each deal's stage history: engaged, high-value contacts open and win more."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import polars as pl

from crm_core.demo.timeline import HISTORY_DAYS, sigmoid, timestamps
from crm_core.entities import DEAL_STAGE_ORDER, DealStage

OPEN_PIPELINE = [DealStage.PROSPECTING, DealStage.QUALIFICATION, DealStage.PROPOSAL, DealStage.NEGOTIATION]


def draw_deals(
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
    won = rng.random(count) < sigmoid(-0.6 + 0.8 * engagement[contact] + 0.5 * value[contact])
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
            "opened_at": timestamps(start, opened),
            "closed_at": timestamps(start, opened + duration),
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
            "changed_at": timestamps(start, at),
        },
        schema_overrides={"from_stage": pl.String},
    )
    assert set(frame["to_stage"].unique().to_list()) <= {s.value for s in DEAL_STAGE_ORDER}
    return frame.with_row_index("id", offset=1).with_columns(pl.col("id").cast(pl.Int64))
