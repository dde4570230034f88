"""Ranking metrics by hand, and each recommender's behaviour on purchase histories we design."""

from __future__ import annotations

from datetime import datetime, timedelta

import numpy as np
import polars as pl
import pytest

from models.interactions import IdMap, UserItemStats
from models.ranking import ranking_metrics
from models.recommenders import (
    BOUGHT_BEFORE,
    POPULAR,
    SIMILAR_CUSTOMERS,
    SIMILAR_PRODUCTS,
    STAPLE_SLOTS,
    BlendMode,
    BlendRecommender,
    BuyAgainRecommender,
    ImplicitRecommender,
    PopularityRecommender,
)

START = datetime(2025, 1, 1)


def events(rows: list[tuple[int, int, int]]) -> pl.DataFrame:
    """(user, item, day) triples as purchase events."""
    return pl.DataFrame(
        {
            "user_id": [u for u, _, _ in rows],
            "item_id": [i for _, i, _ in rows],
            "at": [START + timedelta(days=d) for _, _, d in rows],
        }
    )


def test_ranking_metrics_match_a_hand_computation() -> None:
    recommended = {1: [10, 11, 12], 2: [20, 21]}
    relevant = {1: {10, 12, 99}, 2: {21}, 3: set()}
    figures = ranking_metrics(recommended, relevant, k=3)
    # user 1: hits at ranks 1 and 3; user 2: hit at rank 2; user 3 has nothing to find.
    assert figures["users"] == 2
    assert figures["precision_at_3"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert figures["recall_at_3"] == pytest.approx((2 / 3 + 1) / 2)
    ndcg_1 = (1 + 1 / np.log2(4)) / (1 + 1 / np.log2(3) + 1 / np.log2(4))
    ndcg_2 = (1 / np.log2(3)) / 1
    assert figures["ndcg_at_3"] == pytest.approx((ndcg_1 + ndcg_2) / 2)
    map_1 = (1 + 2 / 3) / 3
    map_2 = (1 / 2) / 1
    assert figures["map_at_3"] == pytest.approx((map_1 + map_2) / 2)
    assert figures["capped_precision_at_3"] == pytest.approx((2 / 3 + 1 / 1) / 2)
    missing = ranking_metrics({}, relevant, k=3)
    assert missing["precision_at_3"] == 0.0, "a user left without a list is a miss, not skipped"


def test_id_maps_find_known_ids_and_flag_unknown_ones() -> None:
    ids = IdMap.of(pl.Series([30, 10, 20, 10]))
    assert ids.ids.tolist() == [10, 20, 30]
    assert ids.positions(np.array([20, 99, 10, 5])).tolist() == [1, -1, 0, -1]


def test_buy_again_ranks_by_frequency_then_recency_and_popularity_can_skip_owned() -> None:
    stats = UserItemStats.from_events(
        events([(1, 5, 0), (1, 5, 10), (1, 6, 1), (1, 7, 20), (2, 6, 3), (3, 6, 4), (3, 8, 5)])
    )
    again = BuyAgainRecommender().fit(stats).recommend([1, 2, 9], 3)
    assert [r.item_id for r in again[1]] == [5, 7, 6]  # twice; then once, most recent first
    assert all(r.reason == BOUGHT_BEFORE for r in again[1])
    assert again[9] == [], "no history, nothing to buy again"
    popular = PopularityRecommender(exclude_owned=True).fit(stats).recommend([2], 2)
    assert [r.item_id for r in popular[2]] == [5, 7], "item 6 is owned; the rest by buyers, then id"
    assert all(r.reason == POPULAR for r in popular[2])
    assert stats.repeat_share() == pytest.approx(1 / 7)


def clustered_history(seed: int) -> pl.DataFrame:
    """Two tastes: users 0-99 buy items 0-19, users 100-199 items 20-39, each five of them."""
    rng = np.random.default_rng(seed)
    rows = []
    for user in range(200):
        first = 0 if user < 100 else 20
        rows.extend((user, int(item), int(rng.integers(0, 60))) for item in rng.choice(20, 5, replace=False) + first)
    return events(rows)


@pytest.mark.parametrize("algorithm", ["als", "bpr"])
def test_factor_models_recommend_within_a_users_taste_and_fall_back_for_strangers(algorithm: str) -> None:
    stats = UserItemStats.from_events(clustered_history(seed=1))
    model = ImplicitRecommender(algorithm, factors=8, seed=3).fit(stats)  # type: ignore[arg-type]
    recommended = model.recommend([0, 150, 10_000], 5)
    # BPR samples negatives, so allow it one stray pick of five; ALS makes none here.
    assert sum(r.item_id < 20 for r in recommended[0]) >= 4, recommended[0]
    assert sum(r.item_id >= 20 for r in recommended[150]) >= 4, recommended[150]
    owned_by_0 = set(stats.frame.filter(pl.col("user_id") == 0)["item_id"].to_list())
    assert not owned_by_0 & {r.item_id for r in recommended[0]}, "owned items filtered by default"
    assert recommended[0][0].reason == SIMILAR_CUSTOMERS
    assert [r.reason for r in recommended[10_000]] == [POPULAR] * 5, "an unknown user gets the popular items"


def test_the_blend_puts_staples_first_where_people_buy_again() -> None:
    history = clustered_history(seed=2).vstack(events([(0, 3, d) for d in range(61, 70)]))  # user 0's staple
    stats = UserItemStats.from_events(history.vstack(history.with_columns(pl.col("at") + timedelta(days=70))))
    blend = BlendRecommender(factors=8, seed=3).fit(stats)
    assert blend.repeat_domain
    top = blend.recommend([0], 10)[0]
    assert top[0].item_id == 3 and top[0].reason == BOUGHT_BEFORE
    assert {r.reason for r in top} <= {BOUGHT_BEFORE, SIMILAR_CUSTOMERS, SIMILAR_PRODUCTS}
    # New items of user 0's own taste sit next to their favourites in item-factor space.
    assert any(r.reason == SIMILAR_PRODUCTS and r.item_id < 20 for r in top)


def test_the_blend_drops_owned_items_where_nobody_buys_twice() -> None:
    stats = UserItemStats.from_events(clustered_history(seed=4).unique(["user_id", "item_id"]))
    blend = BlendRecommender(factors=8, seed=3).fit(stats)
    assert not blend.repeat_domain
    owned = {user: set(items) for user, items in stats.frame.group_by("user_id").agg(pl.col("item_id")).iter_rows()}
    for user, recs in blend.recommend([0, 1, 120], 5).items():
        assert recs and not owned[user] & {r.item_id for r in recs}


def test_a_chosen_mode_overrides_the_repeat_share_rule() -> None:
    """Staples then popular: a user's own top items lead (at most five), then the most bought
    items they were not already shown; a mode fixed by the run holds whatever the repeat share."""
    history = clustered_history(seed=2).vstack(events([(0, 3, d) for d in range(61, 70)]))
    stats = UserItemStats.from_events(history.vstack(history.with_columns(pl.col("at") + timedelta(days=70))))
    blend = BlendRecommender(factors=8, seed=3, mode=BlendMode.STAPLES_THEN_POPULAR).fit(stats)
    top = blend.recommend([0, 10_000], 10)
    own = [r for r in top[0] if r.reason == BOUGHT_BEFORE]
    assert top[0][0].item_id == 3 and 1 <= len(own) <= STAPLE_SLOTS
    assert [r.reason for r in top[0][len(own) :]] == [POPULAR] * (10 - len(own))
    assert len({r.item_id for r in top[0]}) == 10, "a popular item already shown as a staple is not repeated"
    assert [r.reason for r in top[10_000]] == [POPULAR] * 10
    no_repeats = UserItemStats.from_events(clustered_history(seed=4).unique(["user_id", "item_id"]))
    assert BlendRecommender(factors=8, seed=3, mode=BlendMode.STAPLES_THEN_SIMILAR).fit(no_repeats).repeat_domain
    assert not BlendRecommender(factors=8, seed=3, mode=BlendMode.SIMILAR_ONLY).fit(stats).repeat_domain
