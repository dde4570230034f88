"""The job queue: huey, on a SQLite file in the data home by default, on Redis in production.

A message carries nothing but a job row's id; what to do and for whom is read from the row
(see `crm_core.entities.Job`). Messages are signed with a key derived from the field keys, which
neither the queue's file nor Redis holds, so a process that can write to the queue still cannot
make the worker unpickle what it wrote: an unsigned or altered message is refused unread.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from huey import Huey, RedisHuey, SqliteHuey
from huey.api import TaskWrapper
from huey.serializer import SignedSerializer

from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.entities import Job, JobStatus
from crm_core.errors import CrmError
from crm_core.protection import keyring
from crm_core.services import jobs
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork

QUEUE_NAME = "crm-intel"
SIGNING_PURPOSE = "job queue"
RUN_JOB = "run_job"


class QueueUnavailableError(CrmError, RuntimeError):
    """The queue's storage could not take the message (e.g. Redis is down)."""


def _not_a_worker(job_id: int) -> None:
    raise RuntimeError(f"job {job_id} reached a process that only enqueues; run `crm-intel worker`")


def build_huey(settings: CoreSettings, name: str = QUEUE_NAME) -> Huey:
    """The queue `name` (jobs by default; live scoring's wake-ups have their own) on Redis in
    production, else in the data home's SQLite queue file."""
    serializer = SignedSerializer(secret=keyring.active().derived_key(SIGNING_PURPOSE), salt=name)
    if settings.redis_url:
        return RedisHuey(name, url=settings.redis_url, serializer=serializer, results=False)
    settings.queue_file.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    return SqliteHuey(name, filename=str(settings.queue_file), serializer=serializer, results=False)


class JobQueue:
    """Both sides of the queue. The server enqueues job ids; the worker (`crm-intel worker`)
    builds the same queue with `run` set and consumes it. One task, `run_job`, for every kind of
    job: the kind is on the row, so adding a kind never changes what travels on the queue."""

    def __init__(self, huey: Huey, run: Callable[[int], None] | None = None) -> None:
        self.huey = huey
        work = run or _not_a_worker

        def run_job(job_id: int) -> None:
            work(job_id)

        self._task: TaskWrapper = huey.task(name=RUN_JOB)(run_job)

    @classmethod
    def from_settings(cls, settings: CoreSettings, run: Callable[[int], None] | None = None) -> JobQueue:
        return cls(build_huey(settings), run)

    def submit(
        self,
        uow: UnitOfWork,
        principal: Principal,
        kind: str,
        parameters: dict[str, Any],
        *,
        exclusive_key: str | None = None,
    ) -> Job:
        """Record a job for `principal` and queue it: committed first, so a worker never looks
        for a row that is not there yet. The caller's token scopes and request id are recorded
        beside the parameters, where the runner reads them back to act as the caller. If the
        queue cannot take it, the job is marked failed and QueueUnavailableError raised."""
        recorded = {**parameters, "scopes": sorted(principal.scopes), "request_id": principal.request_id}
        job = jobs.create_job(uow, principal, kind, recorded, utc_now(), exclusive_key=exclusive_key)
        uow.commit()
        try:
            self.enqueue(job.id)
        except QueueUnavailableError:
            jobs.finish(uow, job.id, JobStatus.FAILED, "the job queue was unavailable; nothing was done", utc_now())
            raise
        return job

    def enqueue(self, job_id: int) -> None:
        try:
            self._task(job_id)
        except Exception as error:  # storage errors differ per backend (sqlite3, redis)
            raise QueueUnavailableError(f"the job queue is unavailable ({type(error).__name__})") from error

    def pending(self) -> int:
        return int(self.huey.pending_count())
