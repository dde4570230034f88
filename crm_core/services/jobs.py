"""Job records: created by the route that starts the work, claimed and finished by a worker,
read by whoever asked for it (administrators read all)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.exc import IntegrityError

from crm_core.auth.policy import Action, Role, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import Job, JobStatus
from crm_core.errors import ConflictError, NotFoundError
from crm_core.services import audit
from crm_core.unit_of_work import UnitOfWork

MESSAGE_CHARS = 500
OUTPUT_CHARS = 12_000
# Who the audit trail names for a job's end: the worker decides it, not a person.
JOB_WORKER = Principal.system(Role.ADMIN, "job worker")


def create_job(
    uow: UnitOfWork,
    principal: Principal,
    kind: str,
    parameters: dict[str, Any],
    now: datetime,
    *,
    exclusive_key: str | None = None,
) -> Job:
    """A queued job for `principal`; the caller commits before putting its id on the queue, so a
    worker never looks for a job that is not there yet. With `exclusive_key`, refused (409) while
    another job of that key is queued or running: the database's unique index decides, so two
    requests at once cannot both start one."""
    job = Job(
        kind=kind,
        status=JobStatus.QUEUED.value,
        requested_by_id=principal.user_id,
        parameters=parameters,
        created_at=now,
        progress_done=0,
        message="waiting for a worker",
        output="",
        exclusive_key=exclusive_key,
    )
    try:
        with uow.session.begin_nested():
            uow.session.add(job)
            uow.session.flush()
    except IntegrityError as error:
        raise ConflictError("job", f"{exclusive_key} already has a job queued or running; wait for it") from error
    audit.record(uow, principal, action="job.queued", entity="job", entity_id=job.id, details={"kind": kind}, at=now)
    return job


def active_job(uow: UnitOfWork, exclusive_key: str) -> Job | None:
    """The job of this key that is queued or running, if any."""
    return uow.session.scalars(
        select(Job).where(
            Job.exclusive_key == exclusive_key, Job.status.in_([JobStatus.QUEUED.value, JobStatus.RUNNING.value])
        )
    ).first()


def append_output(uow: UnitOfWork, job_id: int, line: str) -> None:
    """Add a line to the job's log, keeping its last OUTPUT_CHARS characters."""
    job = uow.session.get(Job, job_id)
    if job is not None:
        job.output = ((job.output or "") + line.rstrip("\n") + "\n")[-OUTPUT_CHARS:]
        uow.commit()


def claim(uow: UnitOfWork, job_id: int, worker: str, now: datetime) -> Job | None:
    """queued -> running, atomically: a message delivered twice runs the job once."""
    claimed = uow.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.QUEUED.value)
        .values(status=JobStatus.RUNNING.value, started_at=now, heartbeat_at=now, worker=worker, message="started")
    )
    uow.commit()
    if getattr(claimed, "rowcount", 0) != 1:
        return None
    return uow.session.get(Job, job_id)


def beat(uow: UnitOfWork, job_id: int, now: datetime) -> None:
    """The job's worker is alive and on it."""
    uow.session.execute(
        update(Job).where(Job.id == job_id, Job.status == JobStatus.RUNNING.value).values(heartbeat_at=now)
    )
    uow.commit()


def record_progress(uow: UnitOfWork, job_id: int, done: int, total: int | None, message: str) -> None:
    uow.session.execute(
        update(Job)
        .where(Job.id == job_id, Job.status == JobStatus.RUNNING.value)
        .values(progress_done=done, progress_total=total, message=message[:MESSAGE_CHARS])
    )
    uow.commit()


def finish(
    uow: UnitOfWork,
    job_id: int,
    status: JobStatus,
    message: str,
    now: datetime,
    result: dict[str, Any] | None = None,
) -> None:
    values: dict[str, Any] = {"status": status.value, "message": message[:MESSAGE_CHARS], "finished_at": now}
    values["result"] = result
    if status is JobStatus.SUCCEEDED:
        values["progress_done"] = func.coalesce(Job.progress_total, Job.progress_done)
    uow.session.execute(update(Job).where(Job.id == job_id).values(**values))
    _audit_end(uow, job_id, status, now)
    uow.commit()


def _audit_end(uow: UnitOfWork, job_id: int, status: JobStatus, now: datetime, kind: str | None = None) -> None:
    """How a job ended, in the audit trail beside who queued it (the message stays on the job:
    a failure's reason can quote the data worked on). `kind` when the caller holds the job."""
    if kind is None:
        kind = uow.session.scalar(select(Job.kind).where(Job.id == job_id))
    details = {"kind": kind}
    audit.record(uow, JOB_WORKER, action=f"job.{status.value}", entity="job", entity_id=job_id, details=details, at=now)


INTERRUPTED_MESSAGE = "the worker running it stopped before it finished; start it again"


def interrupt_dead(
    uow: UnitOfWork, host: str, is_alive: Callable[[int], bool], now: datetime, *, stale_after: timedelta
) -> int:
    """Mark running jobs whose worker is gone as interrupted; returns how many. On this host a
    worker is gone when its process is; on any host, when it has not renewed the job's heartbeat
    for `stale_after`. A job's work commits at its end (an import is one transaction), so a dead
    worker's job left nothing half-done to clean up."""
    running = uow.session.scalars(select(Job).where(Job.status == JobStatus.RUNNING.value)).all()
    stale_before = now - stale_after
    dead = [
        job
        for job in running
        if ((job.worker or "").startswith(f"{host}:") and not is_alive(_pid_of(job)))
        or (job.heartbeat_at or job.started_at or now) < stale_before
    ]
    interrupted = 0
    for job in dead:
        # Still running when written: of two readers reaping at once, one marks it (and audits).
        marked = uow.session.execute(
            update(Job)
            .where(Job.id == job.id, Job.status == JobStatus.RUNNING.value)
            .values(status=JobStatus.INTERRUPTED.value, finished_at=now, message=INTERRUPTED_MESSAGE)
            .execution_options(synchronize_session=False)
        )
        if getattr(marked, "rowcount", 0) == 1:
            _audit_end(uow, job.id, JobStatus.INTERRUPTED, now, kind=job.kind)
            interrupted += 1
    uow.commit()
    return interrupted


def _pid_of(job: Job) -> int:
    pid = (job.worker or ":0").rsplit(":", 1)[1]
    return int(pid) if pid.isdigit() else 0


def visible_job(uow: UnitOfWork, principal: Principal, job_id: int) -> Job:
    """The job if the caller may read it; a job of someone else is 'not found', as if absent."""
    scope = principal.require("job", Action.READ)
    job = uow.session.get(Job, job_id)
    if job is None or (scope is not Scope.ALL and job.requested_by_id != principal.user_id):
        raise NotFoundError("job", job_id)
    return job


def visible_jobs(uow: UnitOfWork, principal: Principal, limit: int) -> list[Job]:
    """Newest first: the caller's own jobs, or everyone's for an administrator."""
    scope = principal.require("job", Action.READ)
    query = select(Job).order_by(Job.id.desc()).limit(limit)
    if scope is not Scope.ALL:
        query = query.where(Job.requested_by_id == principal.user_id)
    return list(uow.session.scalars(query))
