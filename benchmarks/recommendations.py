"""Recommendations: ALS fit time and top-10 for every contact, at the size asked, with the
time for a million contacts extrapolated linearly from it (the recommend step is per user)."""

from __future__ import annotations

import time
from datetime import datetime

import numpy as np
import polars as pl

from benchmarks.results import Figure
from models.interactions import AT, ITEM, USER, UserItemStats
from models.recommenders import ImplicitRecommender

PURCHASES_PER_CONTACT = 13
ITEMS = 20_000
BATCH = 10_000


def purchases(contacts: int, seed: int = 3) -> pl.DataFrame:
    """Zipf-popular purchases, plus one purchase of every product by a random contact.

    Without those, the catalogue the model ranks grew with the sample (4,418 products bought
    at 100k contacts, 12,939 at 1M), and ranking cost grows with the catalogue: the scaling
    curve measured that, not contacts. A real catalogue is there at any number of contacts."""
    rng = np.random.default_rng(seed)
    count = contacts * PURCHASES_PER_CONTACT
    popularity = rng.zipf(1.6, ITEMS).astype(float)
    popularity /= popularity.sum()
    every_product = np.arange(1, ITEMS + 1)
    items = np.concatenate([rng.choice(every_product, count, p=popularity), every_product])
    seconds = rng.integers(0, 365 * 86_400, len(items))
    return pl.DataFrame(
        {
            USER: rng.integers(1, contacts + 1, len(items)),
            ITEM: items,
            AT: pl.Series(seconds * 1_000_000).cast(pl.Duration("us")) + datetime(2025, 11, 1),
        }
    )


def user_item_stats(contacts: int) -> UserItemStats:
    return UserItemStats.from_events(purchases(contacts))


def run(contacts: int) -> list[Figure]:
    stats = user_item_stats(contacts)
    began = time.perf_counter()
    model = ImplicitRecommender("als", factors=64).fit(stats)
    fit_seconds = time.perf_counter() - began
    users = stats.users.ids.tolist()
    began = time.perf_counter()
    listed = 0
    for start in range(0, len(users), BATCH):
        listed += len(model.recommend(users[start : start + BATCH], 10))
    recommend_seconds = time.perf_counter() - began
    assert listed == len(users)
    per_million = recommend_seconds * 1_000_000 / len(users)
    return [
        Figure(
            "recommend_top10_1m_contacts_seconds",
            per_million,
            None,
            "s",
            60,
            better="lower",
            target_is_ratio=False,
            note=f"measured on {len(users):,} contacts x {ITEMS:,} products, scaled to 1M",
            extra={"contacts_per_second": len(users) / recommend_seconds, "products_ranked": float(len(stats.items))},
        ),
        Figure(
            "als_fit_seconds",
            fit_seconds,
            None,
            "s",
            60,
            better="lower",
            target_is_ratio=False,
            note=f"{stats.frame.height:,} user-item pairs, 64 factors, 15 iterations",
        ),
    ]
