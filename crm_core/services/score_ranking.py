"""Which score is a contact's current one: newest by scoring time, ties broken by feature time
and then id. Lists, segments and previews all rank scores this one way."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import func, select

from crm_core.entities import Prediction


def ranked_scores(model: str, name: str = "ranked", *, contact_ids: Sequence[int] | None = None) -> Any:
    """Contacts' scores of `model`, numbered newest first (rank 1 is the current score, which
    `current_scores` also keeps); `name` tells apart several of these in one query. Ranking the
    whole history is costly: ask about `contact_ids` (a page of them) wherever possible."""
    query = select(
        Prediction.id,
        Prediction.contact_id,
        Prediction.score,
        Prediction.band,
        Prediction.model_version,
        Prediction.scored_at,
        Prediction.top_factors,
        func.row_number()
        .over(
            partition_by=Prediction.contact_id,
            order_by=(Prediction.scored_at.desc(), Prediction.feature_timestamp.desc(), Prediction.id.desc()),
        )
        .label("rank"),
    ).where(Prediction.model_name == model)
    if contact_ids is not None:
        query = query.where(Prediction.contact_id.in_(list(contact_ids)))
    return query.subquery(name)
