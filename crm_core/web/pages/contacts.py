"""The contact record: who they are, what happened across channels, and what the models say.

Each score is shown as a calibrated percentage with its band, its trend over the prediction
history, the reasons pushing it up and down in business words, and what changed since the
previous score; next-best offers come with their reason.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from fastapi import APIRouter, Path, Request, Response
from markupsafe import Markup

from crm_core.api.deps import UoW
from crm_core.schemas.profiles import ScorePublic
from crm_core.services.customer360 import get_customer_360
from crm_core.services.model_descriptions import model_titles
from crm_core.services.profiles import score_history
from crm_core.web.charts import Series, line_chart
from crm_core.web.session import Viewer
from crm_core.web.templating import pages_of

router = APIRouter()


@dataclass(frozen=True)
class ScoreCard:
    score: ScorePublic
    title: str
    raising: list[dict[str, Any]]
    lowering: list[dict[str, Any]]
    trend: Markup | None


def _card(uow: UoW, viewer: Viewer, contact_id: int, score: ScorePublic, titles: dict[str, str]) -> ScoreCard:
    title = titles.get(score.model, score.model.replace("_", " ").capitalize())
    factors = sorted(score.top_factors, key=lambda f: -abs(float(f.get("contribution") or 0.0)))
    history = score_history(uow, viewer, contact_id, score.model)
    trend = None
    if len(history) >= 2:
        start = history[0].scored_at
        points = [((row.scored_at - start).total_seconds() / 86_400, row.score * 100) for row in history]
        trend = line_chart(
            [Series(f"{score.model} score", points)],
            title=f"{title} over time",
            x_label="days since first score",
            y_label="%",
            x_range=(0.0, max(points[-1][0], 1.0)),
            y_range=(0.0, 100.0),
            markers=True,
        )
    return ScoreCard(
        score=score,
        title=title,
        raising=[f for f in factors if float(f.get("contribution") or 0.0) > 0],
        lowering=[f for f in factors if float(f.get("contribution") or 0.0) < 0],
        trend=trend,
    )


@router.get("/contacts/{contact_id}")
def contact_record(request: Request, uow: UoW, viewer: Viewer, contact_id: int = Path(ge=1, le=2**62)) -> Response:
    view = get_customer_360(uow, viewer, contact_id)
    titles = model_titles(uow)
    cards = [_card(uow, viewer, contact_id, score, titles) for score in view.scores]
    return pages_of(request).render(request, "contact.html", view=view, cards=cards, titles=titles)
