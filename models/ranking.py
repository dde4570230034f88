"""Top-k ranking metrics for recommendations, averaged over the users who have something to find."""

from __future__ import annotations

from collections.abc import Hashable, Mapping, Sequence
from typing import TypeVar

import numpy as np

User = TypeVar("User", bound=Hashable)
Item = TypeVar("Item", bound=Hashable)


def _one_user(ranked: Sequence[Item], relevant: set[Item], k: int) -> tuple[float, float, float, float, float]:
    top = list(ranked)[:k]
    hits = np.array([item in relevant for item in top], dtype=np.float64)
    hit_count = float(hits.sum())
    precision = hit_count / k
    recall = hit_count / len(relevant)
    discounts = 1.0 / np.log2(np.arange(2, k + 2))
    dcg = float((hits * discounts[: len(hits)]).sum())
    ideal = float(discounts[: min(k, len(relevant))].sum())
    precision_at_each_hit = np.cumsum(hits) / np.arange(1, len(hits) + 1)
    average_precision = float((precision_at_each_hit * hits).sum()) / min(k, len(relevant))
    capped_precision = hit_count / min(k, len(relevant))
    return precision, recall, dcg / ideal, average_precision, capped_precision


def ranking_metrics(
    recommended: Mapping[User, Sequence[Item]], relevant: Mapping[User, set[Item]], k: int = 10
) -> dict[str, float]:
    """precision@k, recall@k, nDCG@k and MAP@k over users with at least one relevant item.

    A user with no recommendation list counts as a miss, so a recommender cannot look better
    by leaving hard users out. Precision divides by k even when fewer items are recommended;
    `capped_precision_at_k` divides by min(k, relevant items), so a 4-item basket can score 1.
    """
    users = [user for user, items in relevant.items() if items]
    if not users:
        raise ValueError("no user has a relevant item: nothing to evaluate")
    rows = np.array([_one_user(recommended.get(user, ()), relevant[user], k) for user in users])
    means = rows.mean(axis=0)
    return {
        f"precision_at_{k}": float(means[0]),
        f"recall_at_{k}": float(means[1]),
        f"ndcg_at_{k}": float(means[2]),
        f"map_at_{k}": float(means[3]),
        f"capped_precision_at_{k}": float(means[4]),
        "users": float(len(users)),
    }
