"""A rep's home: one worklist per scoring model (hot leads, at-risk customers, ...), ranked by
score, filtered and paged. The lists come from the models' published descriptions."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import urlencode

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import RedirectResponse

from crm_core.api.deps import UoW
from crm_core.auth.policy import Action, Scope
from crm_core.schemas.records import LifecycleStage
from crm_core.services.model_descriptions import scoring_models
from crm_core.services.worklists import WorklistFilters, scored_worklist
from crm_core.web.session import Viewer
from crm_core.web.templating import pages_of

router = APIRouter()

BANDS = ("high", "medium", "low")


MAX_PAGE = 100_000


def _page_number(raw: str | None) -> int:
    """A list's page from its `<model>_page` parameter: anything but a page number is page 1."""
    return min(int(raw), MAX_PAGE) if raw and raw.isdecimal() and 0 < len(raw) < 7 and int(raw) > 0 else 1


@router.get("/")
def rep_home(
    request: Request,
    uow: UoW,
    viewer: Viewer,
    band: Annotated[list[str] | None, Query(max_length=3)] = None,
    stage: Annotated[list[str] | None, Query(max_length=3)] = None,
    q: Annotated[str, Query(max_length=100)] = "",
    per_page: Annotated[int, Query(ge=5, le=100)] = 25,
) -> Response:
    pages = pages_of(request)
    if viewer.scope("prediction", Action.READ) is Scope.NONE or viewer.scope("contact", Action.READ) is Scope.NONE:
        elsewhere = [link.path for link in pages.nav(viewer) if link.path != "/"]
        return RedirectResponse(f"{pages.prefix}{elsewhere[0] if elsewhere else '/login'}", status_code=303)
    bands = [b for b in band or [] if b in BANDS]
    stages = [s for s in stage or [] if s in {item.value for item in LifecycleStage}]
    models = scoring_models(uow)
    pages_by_model = {model.name: _page_number(request.query_params.get(f"{model.name}_page")) for model in models}
    lists = [
        (
            model.name,
            model.heading,
            model.meaning,
            scored_worklist(
                uow,
                viewer,
                model.name,
                WorklistFilters(
                    bands=bands, lifecycle_stages=stages, search=q, page=pages_by_model[model.name], per_page=per_page
                ),
            ),
        )
        for model in models
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
