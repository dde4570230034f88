"""The Jobs page: background work (imports, retraining, promotion) as records anyone can follow,
and the work the worker starts by the clock, with each schedule's next run.

A person sees the jobs they started; an administrator sees everyone's, with who asked. A job
whose worker died reads as interrupted here as everywhere. While a listed job is still queued
or running the page reloads itself every few seconds (a meta refresh: no script needed).
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Path, Request, Response
from sqlalchemy import select

from crm_core.api.deps import UoW
from crm_core.auth.policy import Action, Scope
from crm_core.entities import JobStatus, User
from crm_core.jobs.runner import reap_dead_workers
from crm_core.schemas.jobs import JobPublic
from crm_core.services.jobs import visible_job, visible_jobs
from crm_core.services.schedules import visible_schedules
from crm_core.web.session import Viewer
from crm_core.web.templating import pages_of

router = APIRouter()

JOBS_SHOWN = 100
RELOAD_SECONDS = 3
_UNFINISHED = frozenset({JobStatus.QUEUED.value, JobStatus.RUNNING.value})


def _requesters(uow: UoW, jobs: list[JobPublic]) -> dict[int, str]:
    ids = {job.requested_by_id for job in jobs if job.requested_by_id is not None}
    if not ids:
        return {}
    rows = uow.session.execute(select(User.id, User.full_name).where(User.id.in_(ids))).tuples()
    return dict(rows.all())


def _report(result: dict[str, Any] | None) -> list[tuple[str, str]]:
    """A finished job's report as short lines: figures as they are, a list by its length (an
    import's problem list can hold thousands; the API serves it whole)."""
    if not result:
        return []
    lines = []
    for key, value in result.items():
        if isinstance(value, list):
            shown = f"{len(value):,} item(s)"
        elif isinstance(value, dict):
            shown = json.dumps(value, default=str)[:300]
        else:
            shown = f"{value:,}" if isinstance(value, int) and not isinstance(value, bool) else str(value)
        lines.append((key.replace("_", " "), shown))
    return lines


@router.get("/jobs")
def jobs_page(request: Request, uow: UoW, viewer: Viewer) -> Response:
    viewer.require("job", Action.READ)
    reap_dead_workers(uow)
    jobs = [JobPublic.model_validate(job) for job in visible_jobs(uow, viewer, JOBS_SHOWN)]
    unfinished = any(job.status in _UNFINISHED for job in jobs)
    return pages_of(request).render(
        request,
        "jobs.html",
        jobs=jobs,
        requesters=_requesters(uow, jobs),
        everyone=viewer.scope("job", Action.READ) is Scope.ALL,
        reload_seconds=RELOAD_SECONDS if unfinished else None,
        schedules=visible_schedules(uow, viewer),
    )


@router.get("/jobs/{job_id}")
def job_page(request: Request, uow: UoW, viewer: Viewer, job_id: int = Path(ge=1, le=2**31 - 1)) -> Response:
    viewer.require("job", Action.READ)
    reap_dead_workers(uow)
    job = JobPublic.model_validate(visible_job(uow, viewer, job_id))
    return pages_of(request).render(
        request,
        "job.html",
        job=job,
        requesters=_requesters(uow, [job]),
        report=_report(job.result) if job.status == JobStatus.SUCCEEDED.value else [],
        reload_seconds=RELOAD_SECONDS if job.status in _UNFINISHED else None,
    )
