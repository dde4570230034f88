"""Kill a real `crm-intel worker` while it retrains a model: the job is reported interrupted,
never "running" forever, and a worker started after it does not run it again."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select

from crm_core.auth.policy import Role
from crm_core.db import make_session_factory
from crm_core.entities import Job, User
from crm_core.jobs.queue import JobQueue
from crm_core.services.identity import principal_of
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork
from serving.model_jobs import TRAIN_MODEL, start_model_job
from tests.conftest import DataHome

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

WORKER = [sys.executable, "-m", "crm_intel.worker"]


def _status(home: DataHome, job_id: int) -> tuple[str, str]:
    engine = create_engine(home.database_url)
    try:
        with engine.connect() as connection:
            status, message = connection.execute(select(Job.status, Job.message).where(Job.id == job_id)).one()
            return str(status), str(message)
    finally:
        engine.dispose()


def _wait_for(home: DataHome, job_id: int, wanted: set[str], seconds: float) -> str:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        status, _ = _status(home, job_id)
        if status in wanted:
            return status
        time.sleep(0.1)
    raise AssertionError(f"job {job_id} still {_status(home, job_id)} after {seconds} s, not {wanted}")


def _queue_retrain(home: DataHome) -> int:
    """What the model page's Retrain button does, as the demo's data scientist."""
    engine = create_engine(home.database_url)
    settings = CoreSettings(home=home.path)
    queue = JobQueue.from_settings(settings)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            scientist = uow.session.scalars(select(User).where(User.role == Role.DATA_SCIENTIST.value)).first()
            assert scientist is not None
            return start_model_job(uow, principal_of(scientist), queue, TRAIN_MODEL, "churn").id
    finally:
        queue.huey.storage.close()
        engine.dispose()


def test_a_worker_killed_mid_retrain_leaves_its_job_interrupted_and_it_is_not_run_again(tmp_path: Path) -> None:
    home = DataHome(tmp_path / "var")
    for step in (["demo-data", "--contacts", "1500", "--seed", "4"], ["build-features"]):
        done = home.cli(*step)
        assert done.returncode == 0, done.stdout + done.stderr
    job_id = _queue_retrain(home)
    log = (tmp_path / "worker.log").open("w")
    worker = subprocess.Popen(WORKER, env=home.env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        assert _wait_for(home, job_id, {"running", "succeeded", "failed"}, 120) == "running"
        time.sleep(1.0)  # inside the fit: training churn takes several seconds here
        assert _status(home, job_id)[0] == "running", "the kill lands while the job runs"
        os.kill(worker.pid, signal.SIGKILL)
        worker.wait(30)
    finally:
        if worker.poll() is None:
            worker.kill()
        log.close()

    listed = home.cli("jobs")
    assert listed.returncode == 0, listed.stderr
    status, message = _status(home, job_id)
    assert status == "interrupted" and "start it again" in message, "never 'running' forever"

    log = (tmp_path / "worker-2.log").open("w")
    restarted = subprocess.Popen(WORKER, env=home.env(), stdout=log, stderr=subprocess.STDOUT)
    try:
        time.sleep(8)  # long enough for the new worker to start and look at the queue
        assert _status(home, job_id)[0] == "interrupted", "an interrupted job is not picked up again"
    finally:
        restarted.send_signal(signal.SIGINT)
        try:
            restarted.wait(30)
        finally:
            if restarted.poll() is None:
                restarted.kill()
            log.close()
