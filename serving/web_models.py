"""The data scientists' model pages: runs and metrics, holdout charts, importance and drift,
champion beside challenger, and the buttons that promote, roll back and retrain."""

from __future__ import annotations

import re
from pathlib import Path as FilePath
from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Form, Path, Query, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from markupsafe import Markup
from sqlalchemy.orm import Session, sessionmaker

from crm_core.api.deps import Queue, UoW
from crm_core.auth.policy import Action
from crm_core.clock import utc_now
from crm_core.errors import NotFoundError, ValidationFailedError
from crm_core.jobs.runner import reap_dead_workers
from crm_core.schemas.jobs import JobPublic
from crm_core.services import audit
from crm_core.services.jobs import visible_job
from crm_core.settings import CoreSettings
from crm_core.web import create_web_app
from crm_core.web.charts import Series, bar_chart, line_chart
from crm_core.web.session import Csrf, Viewer
from crm_core.web.templating import pages_of
from features.catalogue import Catalogue
from features.catalogue_file import load_catalogue
from models.drift import MOVES_WITH_TIME
from serving.model_desk import ModelDesk, ModelView, headline
from serving.model_jobs import ACTIONS, PROMOTE_MODEL, ROLL_BACK_MODEL, TRAIN_MODEL, start_model_job

router = APIRouter()
TEMPLATES = FilePath(__file__).parent / "templates"

# PSI above this is a shift worth acting on (the usual rule of thumb; 0.1-0.2 is "watch").
DRIFT_ALERT = 0.2
IMPORTANCE_SHOWN = 12
DRIFT_SHOWN = 15
ModelName = Annotated[str, Path(pattern=r"^[a-z][a-z0-9_]{0,39}$")]


def create_pages(
    desk: ModelDesk | None = None,
    session_factory: sessionmaker[Session] | None = None,
    settings: CoreSettings | None = None,
    catalogue: Catalogue | None = None,
) -> FastAPI:
    """The whole web app: crm_core's pages plus these model pages (set the desk before use; the
    job queue is built from the settings on first use, the catalogue read from the data home
    unless given)."""
    web = create_web_app(session_factory, settings, routers=[router], template_dirs=[TEMPLATES])
    web.state.model_desk = desk
    web.state.job_queue = None
    web.state.catalogue = catalogue
    return web


def _catalogue(request: Request) -> Catalogue:
    state = request.app.state
    if state.catalogue is None:
        state.catalogue = load_catalogue(state.settings.home)
    catalogue: Catalogue = state.catalogue
    return catalogue


def _desk(request: Request) -> ModelDesk:
    desk: ModelDesk = request.app.state.model_desk
    return desk


def _view(request: Request, name: str) -> ModelView:
    try:
        return _desk(request).model(name)
    except KeyError as error:
        raise NotFoundError("model", name) from error


def _charts(view: ModelView) -> list[tuple[str, Markup, str]]:
    """(title, chart, caption) for each holdout curve, champion and challenger overlaid."""
    shown = [(label, v) for label, v in (("champion", view.champion), ("challenger", view.challenger)) if v]
    curves = [(f"{label} v{v.version}", view.curves[v.version]) for label, v in shown if v.version in view.curves]
    if not curves:
        return []

    def series(key: str, pick: Any = None) -> list[Series]:
        return [Series(name, [pick(p) if pick else tuple(p) for p in c[key]]) for name, c in curves]

    def reliability(point: dict[str, float]) -> tuple[float, float]:
        return (point["predicted"], point["observed"])

    lift_top = max(max(p[1] for p in c["lift"]) for _, c in curves)
    return [
        (
            "ROC",
            line_chart(
                series("roc"),
                title="ROC curve",
                x_label="false positive rate",
                y_label="true positive rate",
                diagonal=True,
            ),
            "Above the diagonal is better than chance.",
        ),
        (
            "Precision-recall",
            line_chart(
                series("precision_recall"), title="Precision-recall curve", x_label="recall", y_label="precision"
            ),
            "Precision you get for each share of positives caught.",
        ),
        (
            "Calibration",
            line_chart(
                series("reliability", reliability),
                title="Calibration",
                x_label="predicted",
                y_label="observed",
                diagonal=True,
                markers=True,
            ),
            "On the diagonal, a 30% score means 30% happen.",
        ),
        (
            "Lift",
            line_chart(
                series("lift"),
                title="Cumulative lift",
                x_label="share contacted, best scores first",
                y_label="lift",
                y_range=(0.0, max(1.0, lift_top) * 1.05),
            ),
            "How many times the base rate the top of the list holds.",
        ),
    ]


@router.get("/models")
def models_list(request: Request, viewer: Viewer) -> Response:
    viewer.require("model", Action.READ)
    return pages_of(request).render(request, "models.html", summaries=_desk(request).summaries(), alert=DRIFT_ALERT)


JobId = Annotated[int, Path(ge=1, le=2**31 - 1)]


def _job(uow: UoW, viewer: Viewer, job_id: int) -> JobPublic:
    """The job as its starter (or an admin) sees it; a dead worker's job reads as interrupted."""
    reap_dead_workers(uow)
    return JobPublic.model_validate(visible_job(uow, viewer, job_id))


@router.get("/models/jobs/{job_id}")
def job_status(uow: UoW, viewer: Viewer, job_id: JobId) -> Response:
    viewer.require("model", Action.READ)
    job = _job(uow, viewer, job_id)
    body = {"id": job.id, "action": ACTIONS.get(job.kind, job.kind), "status": job.status, "message": job.message}
    return JSONResponse(body | {"output": job.output, "seconds": job.seconds})


@router.get("/models/{name}")
def model_page(
    request: Request,
    uow: UoW,
    viewer: Viewer,
    name: ModelName,
    job: Annotated[int | None, Query(ge=1, le=2**31 - 1)] = None,
) -> Response:
    viewer.require("model", Action.READ)
    view = _view(request, name)
    importance: Markup | None = None
    champion_curves = view.curves.get(view.champion.version) if view.champion else None
    if champion_curves:
        top = champion_curves["feature_importance"][:IMPORTANCE_SHOWN]
        # Runs logged before importance was sampled measured it on the whole holdout.
        rows = int(champion_curves.get("importance_rows", champion_curves["rows"]))
        title = f"Feature importance (mean |contribution| over {rows:,} holdout rows)"
        importance = bar_chart([(str(f), float(v)) for f, v in top], title=title)
    drift = None
    if view.drift:
        shown = view.drift[:DRIFT_SHOWN]
        drift = bar_chart(
            [(f"{d.feature} ({MOVES_WITH_TIME})" if d.by_construction else d.feature, d.psi) for d in shown],
            title="Drift (PSI) per feature, most moved",
            warn_above=DRIFT_ALERT,
            calm=[d.by_construction for d in shown],
        )
    running = _job(uow, viewer, job) if job else None
    return pages_of(request).render(
        request,
        "model.html",
        view=view,
        charts=_charts(view),
        importance=importance,
        drift=drift,
        alert=DRIFT_ALERT,
        job=running,
        action=ACTIONS.get(running.kind, running.kind) if running else "",
        retrainable=name in _catalogue(request),
        headline=headline,
    )


def _start(
    request: Request, uow: UoW, viewer: Viewer, queue: Queue, name: str, kind: str, **arguments: Any
) -> Response:
    job = start_model_job(uow, viewer, queue, kind, name, **arguments)
    audit.record(
        uow,
        viewer,
        action=f"model.{ACTIONS[kind].replace(' ', '_')}",
        entity="model",
        entity_id=name,
        details={"job": job.id, **arguments},
        at=utc_now(),
    )
    uow.commit()
    return RedirectResponse(f"{pages_of(request).prefix}/models/{name}?job={job.id}", status_code=303)


@router.post("/models/{name}/promote", dependencies=[Csrf])
def promote(
    request: Request,
    uow: UoW,
    viewer: Viewer,
    queue: Queue,
    name: ModelName,
    version: Annotated[str, Form(max_length=12)],
) -> Response:
    viewer.require("model", Action.UPDATE)
    if not re.fullmatch(r"[1-9][0-9]{0,9}", version):
        raise ValidationFailedError("version", f"'{version}' is not a registry version number")
    view = _view(request, name)
    if version not in {v.version for v in view.versions}:
        raise NotFoundError(f"version of model {name}", version)
    return _start(request, uow, viewer, queue, name, PROMOTE_MODEL, version=version)


@router.post("/models/{name}/rollback", dependencies=[Csrf])
def rollback(request: Request, uow: UoW, viewer: Viewer, queue: Queue, name: ModelName) -> Response:
    viewer.require("model", Action.UPDATE)
    _view(request, name)
    return _start(request, uow, viewer, queue, name, ROLL_BACK_MODEL)


@router.post("/models/{name}/retrain", dependencies=[Csrf])
def retrain(request: Request, uow: UoW, viewer: Viewer, queue: Queue, name: ModelName) -> Response:
    viewer.require("model", Action.CREATE)
    if name not in _catalogue(request):
        raise NotFoundError("trainable model", name)
    return _start(request, uow, viewer, queue, name, TRAIN_MODEL)
