"""The Jobs page: each person follows the jobs they started, an administrator everyone's; a job
whose worker died reads as interrupted; a job's log is shown as text, never as markup."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from sqlalchemy import Engine

from crm_core.auth.policy import Role
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Job, JobStatus
from crm_core.jobs.runner import worker_name
from crm_core.unit_of_work import UnitOfWork
from crm_core.web import WEB_PREFIX
from tests.crm_core.conftest import World
from tests.crm_core.web_helpers import signed_in, web_host

RELOAD = 'http-equiv="refresh"'


def add_job(engine: Engine, requested_by: int, kind: str, status: JobStatus, **values: Any) -> int:
    now = utc_now()
    finished = status in (JobStatus.SUCCEEDED, JobStatus.FAILED)
    with UnitOfWork(make_session_factory(engine)) as uow:
        job = Job(
            kind=kind,
            status=status.value,
            requested_by_id=requested_by,
            parameters={},
            created_at=now - timedelta(minutes=5),
            started_at=None if status is JobStatus.QUEUED else now - timedelta(minutes=4),
            finished_at=now - timedelta(minutes=1) if finished else None,
            progress_done=values.pop("progress_done", 0),
            message=values.pop("message", ""),
            output=values.pop("output", ""),
            **values,
        )
        uow.session.add(job)
        uow.commit()
        return job.id


def test_each_person_sees_their_own_jobs_and_an_administrator_everyones(world: World) -> None:
    engine = world.engine
    mine = add_job(
        engine,
        world.users[Role.SALES_REP],
        "import_contacts",
        JobStatus.SUCCEEDED,
        progress_done=25_000,
        progress_total=25_000,
        message="imported 24,990 contacts",
        output="read 25,000 rows\n",
        result={"created": 24_990, "rejected": [{"row": 7}] * 10},
    )
    theirs = add_job(engine, world.users[Role.ADMIN], "train_model", JobStatus.FAILED, message="no snapshot")
    host = web_host(engine)

    rep = signed_in(host, Role.SALES_REP)
    listing = rep.get(f"{WEB_PREFIX}/jobs")
    assert listing.status_code == 200
    assert f"/jobs/{mine}" in listing.text and "import contacts" in listing.text and "25,000 / 25,000" in listing.text
    assert f"/jobs/{theirs}" not in listing.text and "no snapshot" not in listing.text
    assert RELOAD not in listing.text, "nothing is unfinished: the page stays still"
    page = rep.get(f"{WEB_PREFIX}/jobs/{mine}")
    assert page.status_code == 200
    assert "read 25,000 rows" in page.text and "24,990" in page.text and "10 item(s)" in page.text
    assert rep.get(f"{WEB_PREFIX}/jobs/{theirs}").status_code == 404, "another's job reads as absent"

    admin = signed_in(host, Role.ADMIN)
    everyone = admin.get(f"{WEB_PREFIX}/jobs").text
    assert f"/jobs/{mine}" in everyone and f"/jobs/{theirs}" in everyone
    assert Role.SALES_REP.value in everyone, "an administrator sees who asked"


def test_unfinished_jobs_reload_and_a_dead_workers_job_reads_interrupted(world: World) -> None:
    engine = world.engine
    rep = world.users[Role.SALES_REP]
    alive = add_job(engine, rep, "train_model", JobStatus.RUNNING, worker=worker_name(), heartbeat_at=utc_now())
    dead_host, _, _ = worker_name().partition(":")
    dead = add_job(
        engine, rep, "train_model", JobStatus.RUNNING, worker=f"{dead_host}:999999999", heartbeat_at=utc_now()
    )
    client = signed_in(web_host(engine), Role.SALES_REP)
    listing = client.get(f"{WEB_PREFIX}/jobs").text
    assert RELOAD in listing
    running = client.get(f"{WEB_PREFIX}/jobs/{alive}").text
    assert RELOAD in running and 'data-status="running"' in running
    interrupted = client.get(f"{WEB_PREFIX}/jobs/{dead}").text
    assert 'data-status="interrupted"' in interrupted and RELOAD not in interrupted


def test_a_jobs_log_and_message_are_shown_as_text(world: World) -> None:
    payload = "<script>window.__xss=1</script>"
    job = add_job(
        world.engine, world.users[Role.SALES_REP], "import_contacts", JobStatus.FAILED, message=payload, output=payload
    )
    client = signed_in(web_host(world.engine), Role.SALES_REP)
    for page in (f"{WEB_PREFIX}/jobs", f"{WEB_PREFIX}/jobs/{job}"):
        text = client.get(page).text
        assert payload not in text and "&lt;script&gt;" in text


def test_the_jobs_page_asks_strangers_to_sign_in(world: World) -> None:
    from fastapi.testclient import TestClient

    anonymous = TestClient(web_host(world.engine), follow_redirects=False)
    for page in (f"{WEB_PREFIX}/jobs", f"{WEB_PREFIX}/jobs/1"):
        answer = anonymous.get(page)
        assert answer.status_code == 303 and "/login" in answer.headers["location"]
