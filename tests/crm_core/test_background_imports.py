"""Imports too large for a request run as a job with a report to fetch (issue 19, finding 11:
imports past about 110k rows answered 504 with nothing committed).

The queue is real: huey on the data home's SQLite file beside a SQLite CRM, on Redis beside a
PostgreSQL one. The worker's side runs here through huey's own dequeue and execute, one
message at a time, so each test sees exactly what a worker would do with what is queued.
"""

from __future__ import annotations

import os
import pickle
import stat
import time
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from huey.registry import Message
from sqlalchemy import Engine, func, select, update

from crm_core.api import create_api
from crm_core.auth.policy import Role
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Contact, Job, Order, User
from crm_core.imports.background import (
    IMPORT_CONTACTS,
    IMPORT_RECORDS,
    INLINE_IMPORT_ROWS,
    run_contacts_import,
    run_records_import,
)
from crm_core.jobs.queue import RUN_JOB, JobQueue
from crm_core.jobs.runner import STALE_AFTER, JobRun, JobRunner
from crm_core.jobs.staging import staging_dir
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork
from tests.crm_core.conftest import World, build_world
from tests.support.queues import drain


@dataclass(frozen=True)
class Office:
    """The CRM's API and a worker for its queue, on one data home."""

    world: World
    client: TestClient
    home: Path
    worker: JobQueue

    def work(self) -> int:
        """Run what is queued, as `crm-intel worker` would; returns how many messages it took."""
        return drain(self.worker)

    def upload(self, role: Role, csv: str, **form: Any) -> Any:
        files = {"file": ("people.csv", csv.encode(), "text/csv")}
        return self.client.post("/imports/contacts", files=files, data=form, headers=self.world.headers(role))

    def job(self, role: Role, job_id: int) -> Any:
        return self.client.get(f"/jobs/{job_id}", headers=self.world.headers(role))


@pytest.fixture
def office(engine: Engine, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Office]:
    world = build_world(engine)
    home = tmp_path / "home"
    # Production pairs PostgreSQL with Redis; the embedded default keeps the queue in a file.
    redis = request.getfixturevalue("redis_url") if engine.dialect.name == "postgresql" else None
    settings = CoreSettings(home=home, login_max_failures=1000, redis_url=redis)
    session_factory = make_session_factory(engine)
    runner = JobRunner(
        session_factory, home, {IMPORT_CONTACTS: run_contacts_import, IMPORT_RECORDS: run_records_import}
    )
    worker = JobQueue.from_settings(settings, runner)
    yield Office(world, TestClient(create_api(session_factory, settings)), home, worker)
    worker.huey.storage.close()


def _people(count: int, prefix: str = "Bulk") -> str:
    rows = "\n".join(f"{prefix}{n},Person{n},{prefix.lower()}{n}@bulk.test" for n in range(count))
    return f"first_name,last_name,email\n{rows}\n"


def _contacts(engine: Engine, prefix: str) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).where(Contact.first_name.like(f"{prefix}%"))).scalar_one())


def test_a_file_over_the_inline_size_is_queued_and_its_job_holds_the_report(office: Office) -> None:
    rows = INLINE_IMPORT_ROWS + 1
    body = _people(rows) + ",,broken-at-bulk.test\n"
    answer = office.upload(Role.SALES_REP, body)
    assert answer.status_code == 202, answer.text[:300]
    job = answer.json()
    assert job["status"] == "queued" and job["kind"] == IMPORT_CONTACTS and job["result"] is None
    assert answer.headers["location"].endswith(f"/jobs/{job['id']}")
    assert _contacts(office.world.engine, "Bulk") == 0, "nothing is loaded before the worker runs it"
    staged = list(staging_dir(office.home).iterdir())
    assert len(staged) == 1 and stat.S_IMODE(staged[0].stat().st_mode) == 0o600, "the upload is owner-only"

    assert office.work() == 1
    done = office.job(Role.SALES_REP, job["id"]).json()
    assert done["status"] == "succeeded", done["message"]
    assert (done["progress_done"], done["progress_total"]) == (rows + 1, rows + 1)
    report = done["result"]["report"]
    assert (report["rows"], report["inserted"]) == (rows + 1, rows)
    assert done["result"]["rejected_total"] == 1
    rejected = report["rejected"]
    assert rejected == [
        {"row": rows + 1, "field": "email", "reason": "is not an email address", "value": "broken-at-bulk.test"}
    ]
    assert _contacts(office.world.engine, "Bulk") == rows
    with UnitOfWork(make_session_factory(office.world.engine)) as uow:
        owners = set(uow.session.scalars(select(Contact.owner_id).where(Contact.first_name.like("Bulk%"))))
    assert owners == {office.world.users[Role.SALES_REP]}, "the job ran as the rep who sent the file"
    assert list(staging_dir(office.home).iterdir()) == [], "the staged upload is gone once loaded"


def test_a_small_file_loads_in_the_request_unless_a_job_is_asked_for(office: Office) -> None:
    inline = office.upload(Role.ADMIN, _people(3, "Inline"))
    assert inline.status_code == 200 and inline.json()["inserted"] == 3
    queued = office.upload(Role.ADMIN, _people(3, "Asked"), background="true")
    assert queued.status_code == 202
    office.work()
    assert office.job(Role.ADMIN, queued.json()["id"]).json()["result"]["report"]["inserted"] == 3


def test_only_the_requester_and_administrators_see_a_job(office: Office) -> None:
    job_id = office.upload(Role.SALES_REP, _people(2), background="true").json()["id"]
    assert office.job(Role.SALES_REP, job_id).status_code == 200
    assert office.job(Role.ADMIN, job_id).status_code == 200
    for other in (Role.SALES_MANAGER, Role.MARKETER, Role.DATA_SCIENTIST):
        answer = office.job(other, job_id)
        assert answer.status_code == 404, (other, answer.text[:200])
    assert office.job(Role.SALES_REP, job_id + 1000).status_code == 404
    assert office.client.get(f"/jobs/{job_id}").status_code == 401
    mine = office.client.get("/jobs", headers=office.world.headers(Role.SALES_REP)).json()
    assert [job["id"] for job in mine] == [job_id]
    assert office.client.get("/jobs", headers=office.world.headers(Role.MARKETER)).json() == []
    assert "parameters" not in mine[0], "the staged file's name and the caller's scopes stay private"


def test_a_file_that_cannot_be_read_is_refused_at_once_not_queued(office: Office) -> None:
    files = {"file": ("people.parquet", b"PAR1 not really parquet", "application/octet-stream")}
    answer = office.client.post(
        "/imports/contacts", files=files, data={"background": "true"}, headers=office.world.headers(Role.ADMIN)
    )
    assert answer.status_code == 422
    assert office.work() == 0
    assert not staging_dir(office.home).exists() or list(staging_dir(office.home).iterdir()) == []


def test_a_role_that_may_not_import_gets_no_job(office: Office) -> None:
    answer = office.upload(Role.DATA_SCIENTIST, _people(2), background="true")
    assert answer.status_code == 403
    erased = office.upload(Role.SALES_REP, _people(2), background="true", allow_erased="true")
    assert erased.status_code == 403, "re-loading erased people stays an administrator's act in a job too"
    assert office.work() == 0


def test_a_message_delivered_twice_runs_the_job_once(office: Office) -> None:
    job_id = office.upload(Role.ADMIN, _people(5, "Twice"), background="true").json()["id"]
    office.worker.enqueue(job_id)
    assert office.work() == 2
    assert _contacts(office.world.engine, "Twice") == 5
    assert office.job(Role.ADMIN, job_id).json()["status"] == "succeeded"


def test_a_user_deactivated_before_the_job_runs_loads_nothing(office: Office) -> None:
    job_id = office.upload(Role.SALES_REP, _people(4, "Gone"), background="true").json()["id"]
    with office.world.engine.begin() as connection:
        connection.execute(update(User).where(User.id == office.world.users[Role.SALES_REP]).values(is_active=False))
    office.work()
    with office.world.engine.connect() as connection:
        status, message = connection.execute(select(Job.status, Job.message).where(Job.id == job_id)).one()
    assert status == "failed" and "no longer active" in message
    assert _contacts(office.world.engine, "Gone") == 0
    assert list(staging_dir(office.home).iterdir()) == [], "a failed job's upload is removed too"


def test_a_job_left_running_by_a_dead_worker_is_marked_interrupted(office: Office) -> None:
    job_id = office.upload(Role.ADMIN, _people(2), background="true").json()["id"]
    dead_pid = 2**22 + 17  # above Linux's default pid_max: no such process
    with office.world.engine.begin() as connection:
        connection.execute(
            update(Job).where(Job.id == job_id).values(status="running", worker=f"{os.uname().nodename}:{dead_pid}")
        )
    runner = JobRunner(make_session_factory(office.world.engine), office.home, {})
    assert runner.interrupt_dead_jobs() == 1
    shown = office.job(Role.ADMIN, job_id).json()
    assert shown["status"] == "interrupted" and "start it again" in shown["message"]
    office.work()
    assert office.job(Role.ADMIN, job_id).json()["status"] == "interrupted", "an interrupted job is not re-run"


def test_a_job_whose_worker_on_another_host_went_quiet_is_interrupted_and_a_beating_one_is_not(
    office: Office,
) -> None:
    quiet, beating = (office.upload(Role.ADMIN, _people(2), background="true").json()["id"] for _ in range(2))
    now = utc_now()
    with office.world.engine.begin() as connection:
        for job_id, last_beat in ((quiet, now - STALE_AFTER - timedelta(seconds=5)), (beating, now)):
            connection.execute(
                update(Job)
                .where(Job.id == job_id)
                .values(status="running", worker="another-host:12", started_at=last_beat, heartbeat_at=last_beat)
            )
    runner = JobRunner(make_session_factory(office.world.engine), office.home, {})
    assert runner.interrupt_dead_jobs() == 1, "a live process on another host cannot be asked: its heartbeat can"
    assert office.job(Role.ADMIN, quiet).json()["status"] == "interrupted"
    assert office.job(Role.ADMIN, beating).json()["status"] == "running"


def test_the_worker_renews_a_running_jobs_heartbeat_until_it_ends(office: Office) -> None:
    job_id = office.upload(Role.ADMIN, _people(2), background="true").json()["id"]
    seen: list[datetime] = []

    def heartbeat() -> datetime:
        with office.world.engine.connect() as connection:
            return connection.execute(select(Job.heartbeat_at).where(Job.id == job_id)).scalar_one()

    def slow(run: JobRun) -> dict[str, int]:
        for _ in range(3):
            time.sleep(0.3)
            seen.append(heartbeat())
        return {"beats": len(seen)}

    runner = JobRunner(
        make_session_factory(office.world.engine), office.home, {IMPORT_CONTACTS: slow}, heartbeat_seconds=0.05
    )
    runner(job_id)
    assert seen == sorted(seen) and len(set(seen)) == 3, "each look finds a newer heartbeat"
    ended = heartbeat()
    time.sleep(0.2)
    assert heartbeat() == ended, "the heartbeat stops with the job"
    assert office.job(Role.ADMIN, job_id).json()["status"] == "succeeded"


class _Payload:
    """What an attacker with write access to the queue's storage would plant: a pickle that
    runs code when the worker unpickles it."""

    def __init__(self, canary: Path) -> None:
        self.canary = canary

    def __reduce__(self) -> tuple[Any, ...]:
        return (Path.touch, (self.canary,))


def test_a_message_planted_in_the_queue_is_refused_unread(office: Office, tmp_path: Path) -> None:
    canary = tmp_path / "planted-code-ran"
    forged = pickle.dumps(Message("forged", f"crm_core.jobs.queue.{RUN_JOB}", None, 0, 0, 0, (_Payload(canary),), {}))
    office.worker.huey.storage.enqueue(forged)
    office.worker.huey.storage.enqueue(forged + b":" + b"0" * 40)  # a made-up signature
    for _ in range(2):
        with pytest.raises(ValueError, match=r"(?i)signature|separator"):
            office.worker.huey.dequeue()
    assert not canary.exists(), "an unsigned message must never be unpickled"
    job_id = office.upload(Role.ADMIN, _people(1, "After"), background="true").json()["id"]
    office.work()
    assert office.job(Role.ADMIN, job_id).json()["status"] == "succeeded", "the queue keeps working after"


ORDERS_MAPPING = """
[columns]
external_id = "Invoice"
contact_email = "Email"
ordered_at = "Date"
total = "Amount"

[fields.ordered_at]
date_format = "%d/%m/%Y"
"""


def test_orders_upload_inline_or_as_a_job_by_mapping_file_within_the_reps_reach(office: Office) -> None:
    """An order file over the API: the mapping file travels with it (and with the job), the
    rep's own customer is linked, another team's answers like a stranger, and the queued
    import's report is the inline one's."""
    engine = office.world.engine
    with UnitOfWork(make_session_factory(engine)) as uow:
        own = uow.session.get_one(Contact, office.world.contacts[(Role.SALES_REP, "own")])
        other = uow.session.get_one(Contact, office.world.contacts[(Role.SALES_REP, "other")])
        own.email, other.email = "mine@orders.test", "theirs@orders.test"
        uow.commit()
    csv = "Invoice,Email,Date,Amount\nO-1,mine@orders.test,03/02/2025,19.90\nO-2,theirs@orders.test,03/02/2025,5\n"
    files = {"file": ("orders.csv", csv.encode(), "text/csv")}
    rep = office.world.headers(Role.SALES_REP)
    inline = office.client.post("/imports/orders", files=files, data={"mapping_file": ORDERS_MAPPING}, headers=rep)
    assert inline.status_code == 200, inline.text
    report = inline.json()
    assert (report["kind"], report["inserted"]) == ("orders", 1)
    assert [(p["row"], p["field"], p["reason"]) for p in report["rejected"]] == [
        (2, "contact_email", "no contact with email 'theirs@orders.test' in reach")
    ]

    queued = office.client.post(
        "/imports/orders", files=files, data={"mapping_file": ORDERS_MAPPING, "background": "true"}, headers=rep
    )
    assert queued.status_code == 202 and queued.json()["kind"] == IMPORT_RECORDS
    assert office.work() == 1
    done = office.job(Role.SALES_REP, queued.json()["id"]).json()
    assert done["status"] == "succeeded", done["message"]
    assert (done["result"]["report"]["inserted"], done["result"]["report"]["unchanged"]) == (0, 1)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Order)).scalar_one() == 1

    broken = office.client.post("/imports/orders", files=files, data={"mapping_file": "[columns\n"}, headers=rep)
    assert (broken.status_code, broken.json()["field"]) == (422, "mapping")
    marketer = office.client.post("/imports/orders", files=files, headers=office.world.headers(Role.MARKETER))
    assert marketer.status_code == 403


CAMPAIGN_MAPPING = """
kind = "contacts"
separator = ";"
row_ids = "call-"

[constants]
lifecycle_stage = "lead"

[custom_fields.age]
column = "age"
type = "integer"
"""


def test_a_contacts_upload_takes_a_mapping_file_inline_and_as_a_job(office: Office) -> None:
    """A campaign export with no id column, `;`-separated, its own custom field: the mapping file
    travels with the upload and with the queued job; the job matches every row the inline
    import made and adds nothing."""
    csv = "age;job\n41;admin.\nold;services\n"
    files = {"file": ("calls.csv", csv.encode(), "text/csv")}
    admin = office.world.headers(Role.ADMIN)
    inline = office.client.post(
        "/imports/contacts", files=files, data={"mapping_file": CAMPAIGN_MAPPING}, headers=admin
    )
    assert inline.status_code == 200, inline.text
    report = inline.json()
    assert report["inserted"] == 1 and [(p["row"], p["field"], p["value"]) for p in report["rejected"]] == [
        (2, "custom.age", "old")
    ]
    with office.world.engine.connect() as connection:
        stored = connection.execute(
            select(Contact.lifecycle_stage, Contact.custom).where(Contact.external_id == "call-1")
        ).one()
    assert tuple(stored) == ("lead", {"age": 41})

    queued = office.client.post(
        "/imports/contacts", files=files, data={"mapping_file": CAMPAIGN_MAPPING, "background": "true"}, headers=admin
    )
    assert queued.status_code == 202, queued.text
    assert office.work() == 1
    done = office.job(Role.ADMIN, queued.json()["id"]).json()
    assert done["status"] == "succeeded", done["message"]
    assert (done["result"]["report"]["inserted"], done["result"]["report"]["unchanged"]) == (0, 1)
    broken = office.client.post("/imports/contacts", files=files, data={"mapping_file": "row_ids = 7\n"}, headers=admin)
    assert (broken.status_code, broken.json()["field"]) == (422, "mapping")
