"""Live scoring's queue: a wake-up for the worker each time a transaction asks for rescores.

The worker's clock ticks on the same queue: each minute it starts the schedules' due runs.

The outbox (`crm_core.services.rescoring`) says who to rescore; the message says only "look",
so it carries nothing to trust and any number of them are as good as one. It travels on a
queue of its own (same storage as the job queue, another name), which the worker consumes on a
thread of its own: a rescore never waits behind an hour-long retrain.

`wake_on_commit` ties a session factory to the queue: a transaction that asked for rescores
wakes the worker once it has committed. A queue that cannot take the message costs the write
nothing: its requests stay in the outbox for the next wake-up or the worker's own sweep.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Callable

from huey import Huey, crontab
from huey.api import TaskWrapper
from sqlalchemy import event
from sqlalchemy.orm import Session, sessionmaker

from crm_core.jobs.queue import QueueUnavailableError, build_huey
from crm_core.services.rescoring import ASKED
from crm_core.settings import CoreSettings

LIVE_QUEUE_NAME = "crm-intel-live"
RESCORE_WAITING = "rescore_waiting"
SCHEDULE_TICK = "schedule_tick"

log = logging.getLogger("crm_core.jobs")


def _not_a_worker() -> None:
    raise RuntimeError("a rescore reached a process that only wakes the worker; run `crm-intel worker`")


class LiveQueue:
    """Both sides: servers `wake()` the worker, which builds it with `rescore` set."""

    def __init__(
        self, huey: Huey, rescore: Callable[[], object] | None = None, tick: Callable[[], object] | None = None
    ) -> None:
        self.huey = huey
        work = rescore or _not_a_worker

        def rescore_waiting() -> None:
            work()

        self._task: TaskWrapper = huey.task(name=RESCORE_WAITING)(rescore_waiting)
        if tick is not None:
            # Every minute, on the worker's clock: the schedules' due runs are started as jobs.
            def schedule_tick() -> None:
                tick()

            huey.periodic_task(crontab(), name=SCHEDULE_TICK)(schedule_tick)

    @classmethod
    def from_settings(
        cls,
        settings: CoreSettings,
        rescore: Callable[[], object] | None = None,
        tick: Callable[[], object] | None = None,
    ) -> LiveQueue:
        return cls(build_huey(settings, name=LIVE_QUEUE_NAME), rescore, tick)

    def wake(self) -> None:
        try:
            self._task()
        except Exception as error:  # storage errors differ per backend (sqlite3, redis)
            raise QueueUnavailableError(f"the live queue is unavailable ({type(error).__name__})") from error


def wake_on_commit(session_factory: sessionmaker[Session], queue: Callable[[], LiveQueue]) -> None:
    """After each commit of a session from `session_factory` that asked for rescores, wake the
    worker (`queue` builds the queue on first use, so a process that never writes never opens
    it)."""

    def after_commit(session: Session) -> None:
        if not session.info.pop(ASKED, False):
            return
        try:
            queue().wake()
        except QueueUnavailableError as error:
            log.warning("rescores requested but the worker was not woken (%s); they wait in the outbox", error)

    def after_rollback(session: Session) -> None:
        session.info.pop(ASKED, None)

    event.listen(session_factory, "after_commit", after_commit)
    event.listen(session_factory, "after_rollback", after_rollback)


def lazy_live_queue(settings: CoreSettings) -> Callable[[], LiveQueue]:
    """A builder of one LiveQueue per process, made on first call."""
    return functools.cache(lambda: LiveQueue.from_settings(settings))
