"""The worker's side of a job: claim the row, run its kind's handler as the person who asked,
record progress, and end with a result or a reason a person can act on."""

from __future__ import annotations

import logging
import os
import socket
import threading
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session, sessionmaker

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.entities import SCHEDULED_BY, JobStatus, User
from crm_core.errors import CrmError
from crm_core.jobs.staging import remove_staged
from crm_core.services import jobs
from crm_core.services.identity import principal_of
from crm_core.unit_of_work import UnitOfWork

log = logging.getLogger("crm_core.jobs")


def scheduled_principal(schedule: str) -> Principal:
    """Who a run a schedule started acts as: an administrator, named after the schedule in the
    audit trail (`crm_intel.app.schedules` queues such runs)."""
    return Principal.system(Role.ADMIN, f"schedule: {schedule}")


class JobFailedError(CrmError):
    """A handler's way to end its job as failed with a reason for the person who started it."""


@dataclass
class JobRun:
    """What a handler gets: the job's parameters, the principal to act as, a way to report."""

    job_id: int
    parameters: dict[str, Any]
    principal: Principal
    session_factory: sessionmaker[Session]
    home: Path
    _progress: Callable[[int, int | None, str], None] = field(repr=False)
    _log: Callable[[str], None] = field(repr=False)

    def progress(self, done: int, total: int | None, message: str) -> None:
        self._progress(done, total, message)

    def log(self, line: str) -> None:
        """A line of the job's output, shown to whoever follows it as it happens."""
        self._log(line)


Handler = Callable[[JobRun], dict[str, Any]]


def worker_name() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _process_alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


# A running job's worker renews its heartbeat this often; a job silent for STALE_AFTER (several
# missed beats, so a busy database does not make a live job look dead) has lost its worker.
HEARTBEAT_SECONDS = 15.0
STALE_AFTER = timedelta(minutes=2)


def reap_dead_workers(uow: UnitOfWork) -> int:
    """Report jobs whose worker has died as interrupted: at once for this host's workers (their
    process is gone), after STALE_AFTER without a heartbeat for any host's. A page polling one
    shows it, instead of "running" until a worker restarts."""
    return jobs.interrupt_dead(uow, socket.gethostname(), _process_alive, utc_now(), stale_after=STALE_AFTER)


class Heartbeat:
    """Renews a running job's heartbeat from a thread of its own until the job ends."""

    def __init__(self, session_factory: sessionmaker[Session], job_id: int, every_seconds: float) -> None:
        self._stop = threading.Event()
        self._thread = threading.Thread(
            target=self._beat,
            args=(session_factory, job_id, every_seconds),
            name=f"job-{job_id}-heartbeat",
            daemon=True,
        )

    def __enter__(self) -> Heartbeat:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _beat(self, session_factory: sessionmaker[Session], job_id: int, every_seconds: float) -> None:
        while not self._stop.wait(every_seconds):
            try:
                with UnitOfWork(session_factory) as uow:
                    jobs.beat(uow, job_id, utc_now())
            except Exception as error:  # a missed beat is retried at the next; the job goes on
                log.warning("job %s: heartbeat not recorded (%s)", job_id, type(error).__name__)


class JobRunner:
    """Runs one job by id; the queue calls it. Handlers are keyed by job kind."""

    def __init__(
        self,
        session_factory: sessionmaker[Session],
        home: Path,
        handlers: Mapping[str, Handler],
        *,
        heartbeat_seconds: float = HEARTBEAT_SECONDS,
    ) -> None:
        self.session_factory = session_factory
        self.home = home
        self.handlers = dict(handlers)
        self.heartbeat_seconds = heartbeat_seconds

    def interrupt_dead_jobs(self) -> int:
        """At worker start: jobs this host's dead workers left running are marked interrupted."""
        with UnitOfWork(self.session_factory) as uow:
            return reap_dead_workers(uow)

    def __call__(self, job_id: int) -> None:
        with UnitOfWork(self.session_factory) as uow:
            job = jobs.claim(uow, job_id, worker_name(), utc_now())
            if job is None:
                log.info("job %s: not queued (already run, or unknown); skipped", job_id)
                return
            kind, parameters, requested_by = job.kind, dict(job.parameters), job.requested_by_id
        try:
            with Heartbeat(self.session_factory, job_id, self.heartbeat_seconds):
                result = self._run(job_id, kind, parameters, requested_by)
        except (JobFailedError, CrmError) as error:
            self._finish(job_id, JobStatus.FAILED, str(error))
        except Exception as error:
            # Frames only: an exception's text can hold the data being worked on.
            frames = "".join(traceback.format_tb(error.__traceback__))
            log.error("job %s (%s) failed with %s\n%s", job_id, kind, type(error).__name__, frames)
            self._finish(job_id, JobStatus.FAILED, f"the job stopped on an internal error ({type(error).__name__})")
        else:
            self._finish(job_id, JobStatus.SUCCEEDED, "done", result)
        finally:
            remove_staged(self.home, parameters)

    def _run(self, job_id: int, kind: str, parameters: dict[str, Any], requested_by: int | None) -> dict[str, Any]:
        handler = self.handlers.get(kind)
        if handler is None:
            raise JobFailedError(f"this worker does not run '{kind}' jobs")
        run = JobRun(
            job_id=job_id,
            parameters=parameters,
            principal=self._principal(requested_by, parameters),
            session_factory=self.session_factory,
            home=self.home,
            _progress=lambda done, total, message: self._progress(job_id, done, total, message),
            _log=lambda line: self._log(job_id, line),
        )
        return handler(run)

    def _principal(self, user_id: int | None, parameters: dict[str, Any]) -> Principal:
        """Who asked, as they are now: a deactivated user's queued work does not run, and a
        role changed since is the role it runs with. A token's narrower scopes travel along.
        A run a schedule started (no person asked) acts as an administrator named after it."""
        schedule = parameters.get(SCHEDULED_BY)
        if user_id is None and isinstance(schedule, str) and schedule:
            return scheduled_principal(schedule)
        with UnitOfWork(self.session_factory) as uow:
            user = uow.session.get(User, user_id) if user_id is not None else None
            if user is None or not user.is_active:
                raise JobFailedError("the user who started this job is no longer active")
            principal = principal_of(user, frozenset(parameters.get("scopes") or ["*"]))
        request_id = parameters.get("request_id")
        return replace(principal, request_id=request_id) if isinstance(request_id, str) else principal

    def _progress(self, job_id: int, done: int, total: int | None, message: str) -> None:
        with UnitOfWork(self.session_factory) as uow:
            jobs.record_progress(uow, job_id, done, total, message)

    def _log(self, job_id: int, line: str) -> None:
        with UnitOfWork(self.session_factory) as uow:
            jobs.append_output(uow, job_id, line)

    def _finish(self, job_id: int, status: JobStatus, message: str, result: dict[str, Any] | None = None) -> None:
        with UnitOfWork(self.session_factory) as uow:
            jobs.finish(uow, job_id, status, message, utc_now(), result)
        log.info("job %s %s", job_id, status.value)
