"""A job's life is in the audit trail: who queued what, and how it ended (succeeded, failed,
or interrupted when its worker died: written once, however many readers notice)."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import Engine, select

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import AuditEvent, JobStatus, User
from crm_core.services import jobs
from crm_core.services.identity import principal_of
from crm_core.unit_of_work import UnitOfWork
from tests.crm_core.conftest import World


def job_events(engine: Engine, job_id: int) -> list[tuple[str, str, int | None]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(AuditEvent.action, AuditEvent.actor_label, AuditEvent.actor_user_id)
            .where(AuditEvent.entity == "job", AuditEvent.entity_id == str(job_id))
            .order_by(AuditEvent.id)
        )
        return [(action, label, user_id) for action, label, user_id in rows]


def queue_one(engine: Engine, user_id: int, kind: str) -> int:
    with UnitOfWork(make_session_factory(engine)) as uow:
        user = uow.session.get(User, user_id)
        assert user is not None
        job = jobs.create_job(uow, principal_of(user), kind, {}, utc_now())
        uow.commit()
        return job.id


def test_queued_and_finished_jobs_are_audited(world: World) -> None:
    rep = world.users[Role.SALES_REP]
    done, failed = queue_one(world.engine, rep, "import_contacts"), queue_one(world.engine, rep, "train_model")
    session_factory = make_session_factory(world.engine)
    with UnitOfWork(session_factory) as uow:
        jobs.finish(uow, done, JobStatus.SUCCEEDED, "done", utc_now(), {"created": 3})
        jobs.finish(uow, failed, JobStatus.FAILED, "no snapshot", utc_now())
    assert [(action, user) for action, _, user in job_events(world.engine, done)] == [
        ("job.queued", rep),
        ("job.succeeded", None),
    ]
    assert job_events(world.engine, failed)[-1][:2] == ("job.failed", jobs.JOB_WORKER.label)


def test_a_dead_workers_job_is_interrupted_once(world: World) -> None:
    job_id = queue_one(world.engine, world.users[Role.SALES_REP], "train_model")
    session_factory = make_session_factory(world.engine)
    started = utc_now() - timedelta(minutes=10)
    with UnitOfWork(session_factory) as uow:
        assert jobs.claim(uow, job_id, "elsewhere:1", started) is not None
    for _ in range(2):  # two readers notice the silent job
        with UnitOfWork(session_factory) as uow:
            jobs.interrupt_dead(uow, "here", lambda _pid: True, utc_now(), stale_after=timedelta(minutes=2))
    with UnitOfWork(session_factory) as uow:
        assert jobs.visible_job(uow, principal_of_admin(uow), job_id).status == JobStatus.INTERRUPTED.value
    assert [action for action, _, _ in job_events(world.engine, job_id)] == ["job.queued", "job.interrupted"]


def principal_of_admin(uow: UnitOfWork) -> Principal:
    admin = uow.session.scalars(select(User).where(User.role == Role.ADMIN.value)).first()
    assert admin is not None
    return principal_of(admin)
