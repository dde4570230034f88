"""Recommendations on Instacart: each shopper's last order is held out, everything before it
is what the recommenders learn from, and each is scored on predicting that last basket."""

from __future__ import annotations

from dataclasses import dataclass

import polars as pl
from sqlalchemy import Engine

from crm_core.detail_exports import export_order_lines
from models.interactions import AT, ITEM, USER


@dataclass(frozen=True)
class LastBasketSplit:
    history: pl.DataFrame  # user_id, item_id, at: every purchase before each user's last order
    last_baskets: dict[int, set[int]]
    new_in_last: dict[int, set[int]]  # items in the last basket the user had never bought


def last_basket_split(engine: Engine) -> LastBasketSplit:
    lines = export_order_lines(engine).select(
        pl.col("contact_id").alias(USER), "order_id", pl.col("ordered_at").alias(AT), pl.col("product_id").alias(ITEM)
    )
    last_order = lines.group_by(USER).agg(pl.col("order_id").sort_by(AT, "order_id").last().alias("last_order"))
    marked = lines.join(last_order, on=USER).with_columns(
        (pl.col("order_id") == pl.col("last_order")).alias("held_out")
    )
    history = marked.filter(~pl.col("held_out")).select(USER, ITEM, AT)
    held_out = marked.filter(pl.col("held_out"))
    baskets = _sets(held_out)
    seen = _sets(history)
    return LastBasketSplit(
        history=history,
        last_baskets=baskets,
        new_in_last={user: items - seen.get(user, set()) for user, items in baskets.items()},
    )


def _sets(frame: pl.DataFrame) -> dict[int, set[int]]:
    grouped = frame.group_by(USER).agg(pl.col(ITEM).unique())
    return {int(user): {int(item) for item in items} for user, items in grouped.iter_rows()}
