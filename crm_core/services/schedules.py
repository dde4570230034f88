"""The schedules the worker keeps: written from its settings at start, read by the Jobs page,
and claimed run by run (`take_due`), so two workers on one queue never start the same run."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import delete, select, update

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import Schedule
from crm_core.jobs.cron import Cron
from crm_core.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class PlannedRun:
    """One schedule as the settings ask for it."""

    name: str
    kind: str
    cron: str
    parameters: dict[str, Any] = field(default_factory=dict)


def plan_schedules(uow: UnitOfWork, planned: Sequence[PlannedRun], *, now: datetime) -> list[Schedule]:
    """Make the stored schedules what `planned` says: new ones added with their next run, a
    changed line given a new next run, the rest removed (a setting turned off). Commits."""
    stored = {row.name: row for row in uow.session.scalars(select(Schedule))}
    for run in planned:
        row = stored.pop(run.name, None)
        if row is None:
            row = Schedule(name=run.name, last_outcome="")
            uow.session.add(row)
        if row.cron != run.cron or row.next_run_at is None:
            row.next_run_at = Cron.parse(run.cron).next_after(now)
        row.kind, row.cron, row.parameters = run.kind, run.cron, dict(run.parameters)
    for name in stored:
        uow.session.execute(delete(Schedule).where(Schedule.name == name))
    uow.commit()
    return listed(uow)


def take_due(uow: UnitOfWork, *, now: datetime) -> list[Schedule]:
    """The schedules whose run is due, each advanced to its next run in this transaction (the
    conditional update is the claim: a second worker's finds the row moved and skips it). The
    caller starts each run and commits."""
    taken: list[Schedule] = []
    for row in uow.session.scalars(select(Schedule).where(Schedule.next_run_at <= now).order_by(Schedule.name)):
        due_at = row.next_run_at
        following = Cron.parse(row.cron).next_after(now)
        moved = uow.session.execute(
            update(Schedule)
            .where(Schedule.name == row.name, Schedule.next_run_at == due_at)
            .values(next_run_at=following, last_run_at=now)
            .execution_options(synchronize_session=False)
        ).rowcount  # type: ignore[attr-defined]
        if moved:
            uow.session.refresh(row)
            taken.append(row)
    return taken


def record_start(uow: UnitOfWork, name: str, *, job_id: int | None, outcome: str) -> None:
    uow.session.execute(
        update(Schedule).where(Schedule.name == name).values(last_job_id=job_id, last_outcome=outcome[:300])
    )


def listed(uow: UnitOfWork) -> list[Schedule]:
    return list(uow.session.scalars(select(Schedule).order_by(Schedule.next_run_at, Schedule.name)))


def visible_schedules(uow: UnitOfWork, principal: Principal) -> list[Schedule]:
    principal.require("schedule", Action.READ)
    return listed(uow)
