"""Job routes: follow the background work one started (administrators see everyone's)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from crm_core.api.deps import Caller, UoW, policy
from crm_core.jobs.runner import reap_dead_workers
from crm_core.schemas.common import RecordId
from crm_core.schemas.jobs import JobPublic
from crm_core.services.jobs import visible_job, visible_jobs

router = APIRouter(prefix="/jobs", tags=["jobs"])


@router.get("", response_model=list[JobPublic], openapi_extra=policy("job", "read"))
def list_jobs(uow: UoW, caller: Caller, limit: Annotated[int, Query(ge=1, le=100)] = 20) -> list[JobPublic]:
    """Newest first."""
    return [JobPublic.model_validate(job) for job in visible_jobs(uow, caller, limit)]


@router.get("/{job_id}", response_model=JobPublic, name="get_job", openapi_extra=policy("job", "read"))
def get_job(uow: UoW, caller: Caller, job_id: RecordId) -> JobPublic:
    """A job started by someone else answers 404, as if it did not exist."""
    reap_dead_workers(uow)
    return JobPublic.model_validate(visible_job(uow, caller, job_id))
