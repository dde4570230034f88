"""The worker: consumes the job queue and runs each job's kind (large imports; retraining,
promotion and rollback started from the model pages).

`crm-intel serve` starts one beside the server, tied to it; in production run `crm-intel
worker` as its own service, as many as the work needs (they share the queue on Redis).
"""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from collections.abc import Callable
from typing import TYPE_CHECKING

from huey.consumer import Consumer

from crm_core.db import make_session_factory
from crm_core.imports.background import IMPORT_CONTACTS, IMPORT_RECORDS, run_contacts_import, run_records_import
from crm_core.jobs.live import LiveQueue, lazy_live_queue, wake_on_commit
from crm_core.jobs.queue import JobQueue
from crm_core.jobs.runner import Handler, JobRunner
from crm_core.settings import SettingsError
from crm_intel.app import schedules
from crm_intel.context import OWNER_ONLY_UMASK, AppContext
from crm_intel.model_job_handlers import model_handlers

if TYPE_CHECKING:
    from crm_intel.app.live_scores import LiveRound

# Longest wait between looks at an idle queue (huey backs off from 0.1 s up to this).
IDLE_POLL_SECONDS = 1.0
# The live queue is looked at more often: a rescore should land within a second or two of its write.
LIVE_POLL_SECONDS = 0.2
PARENT_CHECK_SECONDS = 1.0

log = logging.getLogger("crm_intel.worker")


def job_handlers(context: AppContext) -> dict[str, Handler]:
    """Every kind of job the worker runs, by the kind stored on the job row."""
    return {IMPORT_CONTACTS: run_contacts_import, IMPORT_RECORDS: run_records_import, **model_handlers(context)}


def build_consumer(context: AppContext) -> tuple[Consumer, JobRunner]:
    session_factory = make_session_factory(context.engine)
    wake_on_commit(session_factory, lazy_live_queue(context.core))  # an import's contacts get rescored
    runner = JobRunner(session_factory, context.home, job_handlers(context))
    queue = JobQueue.from_settings(context.core, runner)
    consumer = queue.huey.create_consumer(workers=1, worker_type="thread", periodic=False, max_delay=IDLE_POLL_SECONDS)
    return consumer, runner


def build_live_consumer(context: AppContext) -> Consumer:
    """The live queue's consumer, one thread: each wake-up drains the outbox of contacts to
    rescore, and each minute the schedules' due runs are queued as jobs. It runs beside the job
    consumer, so a long job never delays a rescore."""
    from crm_intel.app.live_scores import LiveRescorer

    rescorer = LiveRescorer(context)
    jobs = JobQueue.from_settings(context.core)
    queue = LiveQueue.from_settings(context.core, _logged(rescorer.drain), _ticking(context, jobs))
    return queue.huey.create_consumer(workers=1, worker_type="thread", periodic=True, max_delay=LIVE_POLL_SECONDS)


def _ticking(context: AppContext, jobs: JobQueue) -> Callable[[], None]:
    def tick() -> None:
        try:
            started = schedules.start_due(context, jobs)
        except Exception as error:  # the next minute tries again
            log.warning("the schedules could not be looked at (%s)", type(error).__name__)
            return
        for line in started:
            log.info("schedule %s", line)

    return tick


def _logged(drain: Callable[[], list[LiveRound]]) -> Callable[[], None]:
    """A drain that reports what it did, and on failure only what kind of failure: the requests
    stay in the outbox and are claimed again once their claim goes stale."""

    def run() -> None:
        try:
            rounds = drain()
        except Exception as error:
            log.warning("live rescoring stopped (%s); its contacts are retried", type(error).__name__)
            return
        if rounds:
            contacts = sum(done.contacts for done in rounds)
            seconds = sum(done.seconds for done in rounds)
            log.info("rescored %s contact(s) live in %.2f s", contacts, seconds)

    return run


def _stop_when_orphaned(parent: int) -> None:
    """The worker `serve` started ends with the server: once its parent is gone (it is then
    re-parented), it stops as if interrupted from the keyboard, finishing the job in hand."""
    while os.getppid() == parent:
        time.sleep(PARENT_CHECK_SECONDS)
    os.kill(os.getpid(), signal.SIGINT)


def warm_up(context: AppContext) -> None:
    """Load what the model jobs use before taking any: the modelling functions and an open
    registry (MLflow's import and its store's first open). Left to the first job, they made a
    promotion clicked after a server start take seconds instead of a fraction of one."""
    from crm_intel.app import modelling

    del modelling
    try:
        context.registry.prepare()
    except Exception as error:  # optional work: imports still run, a model job opens it again
        log.warning(
            "the model registry could not be opened at start (%s); model jobs will try again", type(error).__name__
        )


def run_worker(context: AppContext, *, exit_with_parent: bool = False) -> None:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s worker %(levelname)s %(message)s")
    warm_up(context)
    consumer, runner = build_consumer(context)
    planned = schedules.plan(context)
    log.info("%s schedule(s) planned", planned)
    live = build_live_consumer(context)
    interrupted = runner.interrupt_dead_jobs()
    if interrupted:
        log.warning("%s job(s) left running by a stopped worker: interrupted", interrupted)
    if exit_with_parent:
        threading.Thread(target=_stop_when_orphaned, args=(os.getppid(),), daemon=True).start()
    live.start()  # before the job consumer, whose `run` then installs its own signal handlers
    try:
        consumer.run()
    finally:
        live.stop(graceful=True)


def main() -> None:
    """`python -m crm_intel.worker [--exit-with-parent]`: what `serve` starts beside the server."""
    import sys

    os.umask(OWNER_ONLY_UMASK)
    try:
        context = AppContext.from_environment()
    except SettingsError as error:
        print(f"error: {error}", file=sys.stderr)
        raise SystemExit(2) from None
    run_worker(context, exit_with_parent="--exit-with-parent" in sys.argv[1:])


if __name__ == "__main__":
    main()
