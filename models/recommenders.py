"""Recommenders over purchase history, all answering `recommend(user_ids, k)` the same way.

`implicit`'s ALS and BPR learn from who bought what; "buy again" and popularity are the
baselines every figure is shown beside. The blend is for repeat-purchase domains (groceries,
consumables), where a shopper's own staples beat anything a factor model finds: it ranks what
they buy again by recency-weighted frequency and fills the rest from ALS. Where people rarely
buy the same thing twice (subscriptions, durable goods) the blend drops owned items instead.
Every recommendation carries its reason.
"""

from __future__ import annotations

import enum
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol, runtime_checkable

import numpy as np
import polars as pl
from threadpoolctl import threadpool_limits

from models.gc_pause import without_cycle_collection
from models.interactions import ITEM, USER, UserItemStats
from models.top_items import top_items

BOUGHT_BEFORE = "bought_before"
SIMILAR_CUSTOMERS = "similar_customers"
SIMILAR_PRODUCTS = "similar_products"
POPULAR = "popular"
# Without a chosen mode (versions logged before modes existed), above this share of purchases
# being repeats a domain is "repeat purchase" and owned items are recommended again.
REPEAT_DOMAIN_SHARE = 0.2
# In the staples-then-popular mode, how many of a user's own items lead their list.
STAPLE_SLOTS = 5


class BlendMode(enum.StrEnum):
    """How the blend fills a list; the training run picks one on a validation slice."""

    STAPLES_THEN_SIMILAR = "staples_then_similar"  # own items by share of buying, then ALS's new items
    SIMILAR_ONLY = "similar_only"  # owned items dropped: ALS alone (durable goods, subscriptions)
    STAPLES_THEN_POPULAR = "staples_then_popular"  # a few own items, then the most bought ones


BLEND_MODES = tuple(BlendMode)  # in order of preference when two score the same


@dataclass(frozen=True)
class Recommendation:
    item_id: int
    score: float
    reason: str


Recommendations = dict[int, list[Recommendation]]


@runtime_checkable
class Recommender(Protocol):
    """Checkable at run time: the registry adapter, which cannot import this package, is told
    to return a `Recommender` and checks what it unpickled is one."""

    name: str

    def fit(self, stats: UserItemStats) -> Recommender: ...

    def recommend(self, user_ids: Sequence[int], k: int) -> Recommendations: ...

    def forget(self, user_ids: Collection[int]) -> int:
        """Drop everything kept per person for `user_ids` (erasure); returns how many it held.
        Aggregates learned from everyone (item factors, popularity) stay."""
        ...


class PopularityRecommender:
    """Most-bought items by number of distinct buyers; what a cold-start user is shown."""

    name = "popularity"

    def __init__(self, exclude_owned: bool = False) -> None:
        self.exclude_owned = exclude_owned
        self.ranked: list[tuple[int, float]] = []
        self.owned: dict[int, set[int]] = {}

    def fit(self, stats: UserItemStats) -> PopularityRecommender:
        buyers = (
            stats.frame.group_by(ITEM).agg(pl.len().alias("buyers")).sort(["buyers", ITEM], descending=[True, False])
        )
        total = max(len(stats.users), 1)
        self.ranked = [(int(item), count / total) for item, count in buyers.iter_rows()]
        if self.exclude_owned:
            self.owned = _owned(stats)
        return self

    def forget(self, user_ids: Collection[int]) -> int:
        return sum(self.owned.pop(int(user), None) is not None for user in user_ids)

    def recommend(self, user_ids: Sequence[int], k: int) -> Recommendations:
        out: Recommendations = {}
        for user in user_ids:
            owned = self.owned.get(user, set())
            picks = (Recommendation(item, score, POPULAR) for item, score in self.ranked if item not in owned)
            out[user] = [pick for _, pick in zip(range(k), picks, strict=False)]
        return out


class BuyAgainRecommender:
    """A user's own past items, most often bought first (then most recent): the baseline."""

    name = "buy_again"

    def __init__(self) -> None:
        self.history: dict[int, list[Recommendation]] = {}

    def fit(self, stats: UserItemStats) -> BuyAgainRecommender:
        ordered = stats.frame.sort([USER, "count", "last_at", ITEM], descending=[False, True, True, False])
        self.history = {}
        for user, item, count in ordered.select(USER, ITEM, "count").iter_rows():
            self.history.setdefault(int(user), []).append(Recommendation(int(item), float(count), BOUGHT_BEFORE))
        return self

    def forget(self, user_ids: Collection[int]) -> int:
        return sum(self.history.pop(int(user), None) is not None for user in user_ids)

    def recommend(self, user_ids: Sequence[int], k: int) -> Recommendations:
        return {user: self.history.get(user, [])[:k] for user in user_ids}


class ImplicitRecommender:
    """ALS or BPR from `implicit`, fitted on recency-weighted counts (BM25-weighted for ALS)."""

    def __init__(
        self,
        algorithm: Literal["als", "bpr"] = "als",
        *,
        factors: int = 64,
        iterations: int | None = None,
        regularization: float = 0.05,
        exclude_owned: bool = True,
        seed: int = 42,
    ) -> None:
        self.algorithm = algorithm
        self.name: str = algorithm
        self.factors = factors
        self.iterations = iterations or (15 if algorithm == "als" else 100)
        self.regularization = regularization
        self.exclude_owned = exclude_owned
        self.seed = seed
        self.stats: UserItemStats | None = None
        self.model: Any = None
        self.fallback = PopularityRecommender(exclude_owned=exclude_owned)

    def fit(self, stats: UserItemStats) -> ImplicitRecommender:
        from implicit.cpu.als import AlternatingLeastSquares
        from implicit.cpu.bpr import BayesianPersonalizedRanking
        from implicit.nearest_neighbours import bm25_weight

        self.stats = stats
        matrix = stats.matrix()
        # Without a BLAS thread limit implicit's ALS runs many times slower (stack notes).
        with threadpool_limits(1, "blas"):
            if self.algorithm == "als":
                self.model = AlternatingLeastSquares(
                    factors=self.factors,
                    regularization=self.regularization,
                    iterations=self.iterations,
                    random_state=self.seed,
                )
                self.model.fit(bm25_weight(matrix, K1=100, B=0.8).tocsr(), show_progress=False)
            else:
                self.model = BayesianPersonalizedRanking(
                    factors=self.factors,
                    regularization=self.regularization,
                    iterations=self.iterations,
                    random_state=self.seed,
                )
                self.model.fit(matrix, show_progress=False)
        self._liked = matrix
        self.fallback.fit(stats)
        return self

    def forget(self, user_ids: Collection[int]) -> int:
        """Their purchase rows, their factor row and their liked-items row go; the others keep
        theirs unchanged (ALS solves each user's factors on their own row)."""
        if self.stats is None:
            return 0
        self.stats, gone = self.stats.without_users(user_ids)
        if len(gone):
            kept = np.setdiff1d(np.arange(self._liked.shape[0]), gone)
            self._liked = self._liked[kept]
            self.model.user_factors = np.delete(self.model.user_factors, gone, axis=0)
        self.fallback.forget(user_ids)
        return len(gone)

    def scored_candidates(self, user_ids: Sequence[int], n: int) -> dict[int, list[tuple[int, float]]]:
        """Up to `n` (item, score) per known user, owned items included or not per settings."""
        assert self.stats is not None, "fit first"
        users = np.asarray(list(user_ids), dtype=np.int64)
        positions = self.stats.users.positions(users)
        known = positions >= 0
        if not known.any():
            return {}
        rows = positions[known]
        with threadpool_limits(1, "blas"):
            item_positions, scores = top_items(
                self.model, rows, self._liked[rows], min(n, len(self.stats.items)), exclude_owned=self.exclude_owned
            )
        return _pairs_per_user(users[known], self.stats.items.ids, item_positions, scores)

    @without_cycle_collection
    def recommend(self, user_ids: Sequence[int], k: int) -> Recommendations:
        scored = self.scored_candidates(user_ids, k)
        cold = [user for user in user_ids if user not in scored]
        out = self.fallback.recommend(cold, k)
        for user, pairs in scored.items():
            out[user] = [Recommendation(item, score, SIMILAR_CUSTOMERS) for item, score in pairs]
        return out


class BlendRecommender:
    """Own staples first in repeat-purchase domains, then what similar customers buy.

    A past item's score is its recency-weighted purchase count over the user's total (how much
    of their buying it is, lately); ALS breaks ties among staples and fills the remaining slots
    with new items. In a domain where repeats are rare, owned items are dropped and ALS alone
    ranks. Users the fit never saw get the popular items.
    """

    name = "blend"

    def __init__(
        self, *, seed: int = 42, factors: int = 64, candidates: int = 50, mode: BlendMode | None = None
    ) -> None:
        self.seed = seed
        self.candidates = candidates
        self.mode = mode
        self.als = ImplicitRecommender("als", factors=factors, exclude_owned=False, seed=seed)
        self.repeat_domain = True
        self.staples: dict[int, dict[int, float]] = {}

    def _neighbours_of_favourites(self, users: list[int]) -> dict[int, set[int]]:
        """Per user, the items most like their favourite purchases (by ALS item factors): an
        offer among them is explained as "similar to what they buy", not "people like them"."""
        stats = self.als.stats
        favourites = {user: _favourites(self.staples.get(user, {})) for user in users}
        items = sorted({item for picks in favourites.values() for item in picks})
        if stats is None or not items:
            return {}
        positions = stats.items.positions(np.asarray(items, dtype=np.int64))
        with threadpool_limits(1, "blas"):
            similar, _ = self.als.model.similar_items(positions, N=NEIGHBOURS + 1)
        like = {
            item: set(stats.items.ids[row[row >= 0]].tolist()) - {item}
            for item, row in zip(items, similar, strict=True)
        }
        return {
            user: set().union(*(like[item] for item in picks)) if picks else set() for user, picks in favourites.items()
        }

    def fit(self, stats: UserItemStats) -> BlendRecommender:
        if self.mode is None:
            self.repeat_domain = stats.repeat_share() >= REPEAT_DOMAIN_SHARE
        else:
            self.repeat_domain = self.mode is not BlendMode.SIMILAR_ONLY
        self.als.exclude_owned = not self.repeat_domain
        self.als.fallback.exclude_owned = not self.repeat_domain
        self.als.fit(stats)
        share = stats.frame.with_columns((pl.col("weight") / pl.col("weight").sum().over(USER)).alias("share"))
        self.staples = {}
        for user, item, value in share.select(USER, ITEM, "share").iter_rows():
            self.staples.setdefault(int(user), {})[int(item)] = float(value)
        return self

    def forget(self, user_ids: Collection[int]) -> int:
        for user in user_ids:
            self.staples.pop(int(user), None)
        return self.als.forget(user_ids)

    def _staples_then_popular(self, user_ids: Sequence[int], k: int) -> Recommendations:
        """A user's top own items, then the most bought items they are not already shown."""
        popular = self.als.fallback.ranked
        out: Recommendations = {}
        for user in user_ids:
            staples = _ranked_staples(self.staples.get(user, {}), [])[: min(STAPLE_SLOTS, k)]
            out[user] = staples + _popular_after(staples, popular, k - len(staples))
        return out

    @without_cycle_collection
    def recommend(self, user_ids: Sequence[int], k: int) -> Recommendations:
        if self.mode is BlendMode.STAPLES_THEN_POPULAR:
            return self._staples_then_popular(user_ids, k)
        scored = self.als.scored_candidates(user_ids, self.candidates)
        cold = [user for user in user_ids if user not in scored]
        out = self.als.fallback.recommend(cold, k)
        neighbours = self._neighbours_of_favourites(list(scored))
        for user, pairs in scored.items():
            staples = self.staples.get(user, {}) if self.repeat_domain else {}
            ranked = _ranked_staples(staples, pairs)[:k]
            out[user] = ranked + _fresh_picks(pairs, staples, neighbours.get(user, set()), k - len(ranked))
        return out


def _popular_after(
    staples: list[Recommendation], popular: list[tuple[int, float]], wanted: int
) -> list[Recommendation]:
    taken = {rec.item_id for rec in staples}
    picks = (Recommendation(item, score, POPULAR) for item, score in popular if item not in taken)
    return [pick for _, pick in zip(range(wanted), picks, strict=False)]


def _ranked_staples(staples: dict[int, float], pairs: list[tuple[int, float]]) -> list[Recommendation]:
    """A user's own items by share of their buying; ALS's order among the candidates breaks ties."""
    if not staples:
        return []
    als_rank = {item: 1.0 - position / len(pairs) for position, (item, _) in enumerate(pairs) if item in staples}
    return sorted(
        (
            Recommendation(item, share + 0.01 * als_rank.get(item, 0.0), BOUGHT_BEFORE)
            for item, share in staples.items()
        ),
        key=lambda rec: (-rec.score, rec.item_id),
    )


def _fresh_picks(
    pairs: list[tuple[int, float]], staples: dict[int, float], near_favourites: set[int], wanted: int
) -> list[Recommendation]:
    """The first `wanted` ALS candidates the user does not already buy. Only those are built:
    the blend asks ALS for 50 candidates, and building all of them for every contact cost more
    than ALS's own ranking."""
    picks: list[Recommendation] = []
    for position, (item, _) in enumerate(pairs):
        if len(picks) >= wanted:
            break
        if item not in staples:
            reason = SIMILAR_PRODUCTS if item in near_favourites else SIMILAR_CUSTOMERS
            picks.append(Recommendation(item, 0.01 * (1.0 - position / len(pairs)), reason))
    return picks


def _pairs_per_user(
    users: np.ndarray, item_ids: np.ndarray, item_positions: np.ndarray, scores: np.ndarray
) -> dict[int, list[tuple[int, float]]]:
    """implicit's (users x n) answer as (item id, score) lists, converted a whole batch at a time:
    per-element int()/float() calls cost as much as implicit's own top-n for every contact.
    A position of -1 pads a row that had fewer than n candidates and is dropped."""
    ids = item_ids[np.maximum(item_positions, 0)].tolist()
    values = scores.tolist()
    rows = zip(users.tolist(), ids, values, strict=True)
    if bool((item_positions >= 0).all()):
        return {user: list(zip(row_ids, row_values, strict=True)) for user, row_ids, row_values in rows}
    keep = (item_positions >= 0).tolist()
    return {
        user: [pair for pair, kept in zip(zip(row_ids, row_values, strict=True), row_keep, strict=True) if kept]
        for (user, row_ids, row_values), row_keep in zip(rows, keep, strict=True)
    }


FAVOURITES = 3
NEIGHBOURS = 10


def _favourites(staples: dict[int, float]) -> list[int]:
    return [item for item, _ in sorted(staples.items(), key=lambda pair: (-pair[1], pair[0]))[:FAVOURITES]]


def _owned(stats: UserItemStats) -> dict[int, set[int]]:
    owned: dict[int, set[int]] = {}
    for user, item in stats.frame.select(USER, ITEM).iter_rows():
        owned.setdefault(int(user), set()).add(int(item))
    return owned
