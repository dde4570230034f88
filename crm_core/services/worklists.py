"""A rep's working lists: contacts in reach ranked by their newest score of one model.

"My hot leads" is the lead model's list and "my at-risk customers" the churn model's; each row
carries the band, which way the score moved since the score before it, and the strongest reason
the viewer may read, so the list answers "whom do I call first, and why" without a click.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, func, or_, select

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import Contact, CurrentScore, Prediction
from crm_core.errors import ValidationFailedError
from crm_core.services.access import within_reach
from crm_core.services.reasons import visible_reasons
from crm_core.services.score_ranking import ranked_scores
from crm_core.unit_of_work import UnitOfWork

MAX_PER_PAGE = 100
# A move smaller than this (in probability) is shown as flat: noise, not news.
TREND_STEP = 0.02


@dataclass(frozen=True)
class WorklistFilters:
    bands: Sequence[str] = ()
    lifecycle_stages: Sequence[str] = ()
    search: str = ""
    page: int = 1
    per_page: int = 25


@dataclass(frozen=True)
class WorklistRow:
    contact_id: int
    name: str
    lifecycle_stage: str
    score: float
    band: str
    model_version: str
    scored_at: datetime
    previous_score: float | None
    top_reason: dict[str, Any] | None

    @property
    def percent(self) -> int:
        return round(self.score * 100)

    @property
    def trend(self) -> str:
        """'up', 'down', 'flat', or 'new' when there is no earlier score to compare with."""
        if self.previous_score is None:
            return "new"
        moved = self.score - self.previous_score
        if abs(moved) < TREND_STEP:
            return "flat"
        return "up" if moved > 0 else "down"


@dataclass(frozen=True)
class Worklist:
    model: str
    rows: list[WorklistRow]
    total: int
    page: int
    pages: int


def _filtered(query: Select[Any], filters: WorklistFilters) -> Select[Any]:
    if filters.bands:
        query = query.where(CurrentScore.band.in_(list(filters.bands)))
    if filters.lifecycle_stages:
        query = query.where(Contact.lifecycle_stage.in_(list(filters.lifecycle_stages)))
    words = filters.search.strip()
    if words:
        pattern = f"%{words.replace('%', '').replace('_', '')}%"
        query = query.where(or_(Contact.first_name.ilike(pattern), Contact.last_name.ilike(pattern)))
    return query


def scored_worklist(uow: UnitOfWork, principal: Principal, model: str, filters: WorklistFilters) -> Worklist:
    """One page of the contacts in reach that have a `model` score, highest score first."""
    if not 1 <= filters.per_page <= MAX_PER_PAGE:
        raise ValidationFailedError("per_page", f"must be between 1 and {MAX_PER_PAGE}")
    if filters.page < 1:
        raise ValidationFailedError("page", "must be 1 or more")
    contact_scope = principal.require("contact", Action.READ)
    principal.require("prediction", Action.READ)
    current = select(Contact, CurrentScore).join(
        CurrentScore, (CurrentScore.contact_id == Contact.id) & (CurrentScore.model_name == model)
    )
    base = _filtered(within_reach(current, Contact.owner_id, principal, contact_scope), filters)
    total = int(uow.session.scalar(select(func.count()).select_from(base.subquery())) or 0)
    pages = max(1, math.ceil(total / filters.per_page))
    page = min(filters.page, pages)
    # The page's reasons come with it: the current score's own prediction, by primary key.
    found = uow.session.execute(
        base.join(Prediction, Prediction.id == CurrentScore.prediction_id)
        .add_columns(Prediction.top_factors)
        .order_by(CurrentScore.score.desc(), Contact.id)
        .offset((page - 1) * filters.per_page)
        .limit(filters.per_page)
    ).all()
    previous = _previous_scores(uow, model, [row.Contact.id for row in found])
    rows = [
        WorklistRow(
            contact_id=row.Contact.id,
            name=f"{row.Contact.first_name} {row.Contact.last_name}".strip(),
            lifecycle_stage=row.Contact.lifecycle_stage,
            score=row.CurrentScore.score,
            band=row.CurrentScore.band,
            model_version=row.CurrentScore.model_version,
            scored_at=row.CurrentScore.scored_at,
            previous_score=previous.get(row.Contact.id),
            top_reason=_strongest_push_up(principal, row.top_factors or []),
        )
        for row in found
    ]
    return Worklist(model=model, rows=rows, total=total, page=page, pages=pages)


def _previous_scores(uow: UnitOfWork, model: str, contact_ids: list[int]) -> dict[int, float]:
    """The score before the current one, for the page's contacts only (ranked per contact)."""
    if not contact_ids:
        return {}
    ranked = ranked_scores(model, contact_ids=contact_ids)
    query = select(ranked.c.contact_id, ranked.c.score).where(ranked.c.rank == 2)
    return {int(contact_id): float(score) for contact_id, score in uow.session.execute(query)}


def _strongest_push_up(principal: Principal, factors: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The reason that raises the score most: on a ranked list, why this one is near the top."""
    readable = visible_reasons(principal, factors)
    raising = [f for f in readable if float(f.get("contribution") or 0.0) > 0]
    return max(raising, key=lambda f: float(f["contribution"]), default=None)
