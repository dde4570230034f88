"""A rep's home: hot leads and at-risk customers, ranked by score, filtered and paged."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from crm_core.api.deps import UoW
from crm_core.auth.policy import Action, Scope
from crm_core.schemas.records import LifecycleStage
from crm_core.services.worklists import WorklistFilters, scored_worklist
from crm_core.web.session import Viewer
from crm_core.web.templating import pages_of

router = APIRouter()

# (model, heading, what a high score means for the rep)
WORKLISTS = (
    ("lead", "My hot leads", "likely to close a deal in the next 90 days"),
    ("churn", "My at-risk customers", "likely to go quiet in the next 90 days"),
)
BANDS = ("high", "medium", "low")


@router.get("/")
def rep_home(
    request: Request,
    uow: UoW,
    viewer: Viewer,
    band: Annotated[list[str] | None, Query(max_length=3)] = None,
    stage: Annotated[list[str] | None, Query(max_length=3)] = None,
    q: Annotated[str, Query(max_length=100)] = "",
    lead_page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    churn_page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=5, le=100)] = 25,
) -> Response:
    pages = pages_of(request)
    if viewer.scope("prediction", Action.READ) is Scope.NONE or viewer.scope("contact", Action.READ) is Scope.NONE:
        elsewhere = [link.path for link in pages.nav(viewer) if link.path != "/"]
        return RedirectResponse(f"{pages.prefix}{elsewhere[0] if elsewhere else '/login'}", status_code=303)
    bands = [b for b in band or [] if b in BANDS]
    stages = [s for s in stage or [] if s in {item.value for item in LifecycleStage}]
    pages_by_model = {"lead": lead_page, "churn": churn_page}
    lists = [
        (
            model,
            heading,
            meaning,
            scored_worklist(
                uow,
                viewer,
                model,
                WorklistFilters(
                    bands=bands, lifecycle_stages=stages, search=q, page=pages_by_model[model], per_page=per_page
                ),
            ),
        )
        for model, heading, meaning in WORKLISTS
    ]

    def page_link(model: str, page: int) -> str:
        """This view with one list moved to `page`, every filter kept."""
        params = [("band", b) for b in bands] + [("stage", s) for s in stages] + [("q", q), ("per_page", per_page)]
        params += [(f"{name}_page", page if name == model else current) for name, current in pages_by_model.items()]
        return f"{pages.prefix}/?{urlencode(params)}"

    return pages.render(
        request,
        "home.html",
        page_link=page_link,
        lists=lists,
        bands=BANDS,
        stages=[item.value for item in LifecycleStage],
        chosen_bands=bands,
        chosen_stages=stages,
        q=q,
        per_page=per_page,
        page_of=pages_by_model,
    )
