"""Schedules (issue 22): the settings say what runs by the clock; the worker's tick queues each
due run as a job acting for its schedule, once, skipping a run whose previous one still goes;
the nightly run rebuilds features and rescores every contact with every champion."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError
from sqlalchemy import select

from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Job, JobStatus, Schedule
from crm_core.jobs.queue import JobQueue
from crm_core.jobs.runner import JobRunner
from crm_core.protection.keyring import FieldKeyring
from crm_core.schemas.jobs import JobPublic
from crm_core.services import rescoring
from crm_core.services.activities import ingest
from crm_core.unit_of_work import UnitOfWork
from crm_intel.app import schedules
from crm_intel.app.live_scores import LiveRescorer
from crm_intel.context import AppContext
from crm_intel.schedule_settings import ScheduleSettings
from crm_intel.worker import job_handlers
from features.settings import FeatureSettings
from tests.conftest import app_context
from tests.test_live_scores import ADMIN
from training.pipeline import RunResult


def _home(tmp_path: Path, field_keys: FieldKeyring, **lines: object) -> AppContext:
    ctx = app_context(tmp_path / "var", field_keys)
    return replace(ctx, schedules=ScheduleSettings(home=ctx.home, **lines))  # type: ignore[arg-type]


def _stored(ctx: AppContext) -> dict[str, Schedule]:
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        rows = {row.name: row for row in uow.session.scalars(select(Schedule))}
        uow.session.expunge_all()
    return rows


def _jobs(ctx: AppContext) -> list[tuple[str, dict[str, object], int | None]]:
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        rows = uow.session.scalars(select(Job).order_by(Job.id)).all()
        return [(job.kind, dict(job.parameters), job.requested_by_id) for job in rows]


def test_the_settings_plan_one_schedule_per_run_and_off_removes_it(tmp_path: Path, field_keys: FieldKeyring) -> None:
    ctx = _home(tmp_path, field_keys, schedule_retrain_models={"recommend": "off", "lead": "0 4 * * 1-5"})
    schedules.plan(ctx)
    stored = _stored(ctx)
    assert set(stored) == {"nightly feature build and rescore", "retrain churn", "retrain lead"}
    assert stored["retrain lead"].cron == "0 4 * * 1-5" and stored["retrain churn"].cron == "0 3 * * 0"
    assert stored["retrain churn"].parameters == {"model": "churn"}
    assert all(row.next_run_at is not None and row.next_run_at > utc_now() for row in stored.values())

    quiet = replace(ctx, schedules=ScheduleSettings(home=ctx.home, schedules=False))
    schedules.plan(quiet)
    assert _stored(quiet) == {}, "CRM_SCHEDULES=off leaves nothing to run"


def test_a_broken_line_in_the_settings_is_refused_naming_the_setting() -> None:
    with pytest.raises(ValidationError) as refused:
        ScheduleSettings(schedule_refresh="0 25 * * *")
    assert "CRM_SCHEDULE_REFRESH: '0 25 * * *': 25 is not a valid input" in str(refused.value)
    with pytest.raises(ValidationError) as refused:
        ScheduleSettings(schedule_retrain_models={"churn": "weekly"})
    assert "CRM_SCHEDULE_RETRAIN_MODELS[churn]" in str(refused.value)


def test_a_due_run_is_queued_once_as_its_schedule_and_skipped_while_the_last_one_goes(
    tmp_path: Path, field_keys: FieldKeyring
) -> None:
    ctx = _home(tmp_path, field_keys, schedule_retrain="off", schedule_refresh="0 2 * * *")
    schedules.plan(ctx)
    next_run = _stored(ctx)["nightly feature build and rescore"].next_run_at
    assert next_run is not None
    queue = JobQueue.from_settings(ctx.core)

    assert schedules.start_due(ctx, queue, now=next_run - timedelta(minutes=1)) == []
    said = schedules.start_due(ctx, queue, now=next_run + timedelta(seconds=5))
    assert len(said) == 1 and "queued" in said[0]
    [(kind, parameters, requested_by)] = _jobs(ctx)
    assert (kind, parameters["schedule"], requested_by) == (
        schedules.REFRESH_SCORES,
        "nightly feature build and rescore",
        None,
    ), "no person asked: the schedule did"
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        shown = JobPublic.model_validate(uow.session.scalars(select(Job)).one())
    assert shown.scheduled_by == "nightly feature build and rescore", "the Jobs page and the API say who asked"
    row = _stored(ctx)["nightly feature build and rescore"]
    assert row.next_run_at == next_run + timedelta(days=1) and row.last_job_id is not None
    assert schedules.start_due(ctx, queue, now=next_run + timedelta(seconds=30)) == [], "a run starts once"

    tomorrow = next_run + timedelta(days=1, seconds=5)
    skipped = schedules.start_due(ctx, queue, now=tomorrow)
    assert skipped == [
        "nightly feature build and rescore: skipped: the previous run (or one a person started) is still going"
    ]
    assert len(_jobs(ctx)) == 1
    assert _stored(ctx)["nightly feature build and rescore"].next_run_at == next_run + timedelta(days=2)


@pytest.mark.slow
def test_the_nightly_run_rebuilds_features_and_rescores_as_its_schedule(
    trained_crm: tuple[AppContext, RunResult], tmp_path: Path
) -> None:
    ctx, _ = trained_crm
    home = tmp_path / "own"
    offline = ctx.features.snapshot_path.parent
    shutil.copytree(offline, home / offline.relative_to(ctx.features.home))
    # Any drift at all asks for a retrain here, so the run's own trigger can be seen to fire.
    lines = ScheduleSettings(home=home, retrain_on_drift_psi=1e-9)
    ctx = replace(ctx, features=FeatureSettings(home=home), schedules=lines)

    # A contact rescored live before the run: the run's build includes its calls.
    now = utc_now()
    calls = [{"contact_id": 9, "type": "call", "channel": "phone", "occurred_at": now} for _ in range(2)]
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        ingest(uow, ADMIN, calls, now=now)
        uow.commit()
    LiveRescorer(ctx).drain()

    queue = JobQueue.from_settings(ctx.core)
    schedules.plan(ctx)
    due = _stored(ctx)["nightly feature build and rescore"].next_run_at
    assert due is not None
    schedules.start_due(ctx, queue, now=due)
    job_id = next(i for i, (kind, _, _) in enumerate(_jobs(ctx), start=1) if kind == schedules.REFRESH_SCORES)
    JobRunner(make_session_factory(ctx.engine), ctx.home, job_handlers(ctx))(job_id)

    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        job = uow.session.get(Job, job_id)
        assert job is not None
        assert job.status == JobStatus.SUCCEEDED.value, job.message
        assert "churn: v1:" in job.output and "contacts scored" in job.output
        assert job.result is not None and job.result["rescored_again"] == 0, "nothing was written during the build"
        assert rescoring.waiting(uow) == 0
        assert "retrain queued: churn: drift (worst PSI" in job.output
    retrains = [(i, parameters) for i, (kind, parameters, _) in enumerate(_jobs(ctx), start=1) if kind == "train_model"]
    assert [p["schedule"] for _, p in retrains] == ["retrain churn on drift"], "queued as the retrain job a page queues"

    # The retrain it asked for runs as a person's would: trained, registered, judged by the gate.
    retrain_id = retrains[0][0]
    JobRunner(make_session_factory(ctx.engine), ctx.home, job_handlers(ctx))(retrain_id)
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        retrain = uow.session.get(Job, retrain_id)
        assert retrain is not None and retrain.status == JobStatus.SUCCEEDED.value, retrain and retrain.message
        assert "registered churn v2:" in retrain.output
        assert "promoted to champion" in retrain.output or "kept as challenger" in retrain.output
        retrain_output = retrain.output
    judged = ctx.registry.version("churn", "2")
    assert judged.verdict and judged.promoted == ("promoted to champion" in retrain_output), (
        "the gate's verdict is kept"
    )
