"""Work by the clock: which runs the settings ask for, starting the ones that are due as jobs on
the job queue, and the nightly refresh itself.

A scheduled run is an ordinary job (the Jobs page lists it, it reports progress and output),
asked for by the schedule rather than a person: it acts as an administrator labelled with the
schedule's name. A run whose previous one is still going (or a retrain a person already
started) is skipped and says so on the Jobs page; the schedule moves on to its next time.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import SCHEDULED_BY
from crm_core.errors import ConflictError
from crm_core.exports import CrmExport
from crm_core.jobs.queue import JobQueue, QueueUnavailableError
from crm_core.jobs.runner import scheduled_principal
from crm_core.services import rescoring, schedules
from crm_core.services.schedules import PlannedRun
from crm_core.unit_of_work import UnitOfWork
from crm_intel.context import AppContext
from crm_intel.schedule_settings import OFF
from features.catalogue import ModelKind

REFRESH_SCORES = "refresh_scores"
REFRESH_NAME = "nightly feature build and rescore"
REFRESH_KEY = "refresh"


def planned_runs(ctx: AppContext) -> list[PlannedRun]:
    """The schedules this data home's settings and catalogue ask for (none when turned off)."""
    from serving.model_jobs import TRAIN_MODEL

    settings = ctx.schedules
    if not settings.schedules:
        return []
    runs = []
    if settings.schedule_refresh != OFF:
        runs.append(PlannedRun(REFRESH_NAME, REFRESH_SCORES, settings.schedule_refresh))
    for entry in ctx.catalogue:
        line = settings.retrain_line(entry.name)
        if line != OFF:
            runs.append(PlannedRun(f"retrain {entry.name}", TRAIN_MODEL, line, {"model": entry.name}))
    return runs


def plan(ctx: AppContext) -> int:
    """Store the planned schedules (a worker does at start); how many there are."""
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        return len(schedules.plan_schedules(uow, planned_runs(ctx), now=utc_now()))


def start_due(ctx: AppContext, queue: JobQueue, *, now: datetime | None = None) -> list[str]:
    """Queue a job for each schedule that is due; what each start said, for the log."""
    from serving.model_jobs import exclusive_key

    said = []
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        due = schedules.take_due(uow, now=now or utc_now())
        uow.commit()  # the claims, before any job is queued
        for row in due:
            key = REFRESH_KEY if row.kind == REFRESH_SCORES else exclusive_key(str(row.parameters.get("model")))
            try:
                asked = {**row.parameters, SCHEDULED_BY: row.name}
                job = queue.submit(uow, scheduled_principal(row.name), row.kind, asked, exclusive_key=key)
                outcome, job_id = f"job #{job.id} queued", job.id
            except ConflictError:
                uow.session.rollback()
                outcome, job_id = "skipped: the previous run (or one a person started) is still going", None
            except QueueUnavailableError:
                outcome, job_id = "not started: the job queue was unavailable", None
            schedules.record_start(uow, row.name, job_id=job_id, outcome=outcome)
            uow.commit()
            said.append(f"{row.name}: {outcome}")
    return said


@dataclass
class RefreshReport:
    contacts_online: int = 0
    scored: dict[str, str] = field(default_factory=dict)  # model -> what scoring it did
    retrain_asked: list[str] = field(default_factory=list)
    outcome_warnings: list[str] = field(default_factory=list)
    rescored_again: int = 0


def refresh_and_rescore(ctx: AppContext, write: Callable[[str], None], queue: JobQueue | None = None) -> RefreshReport:
    """The nightly run: build the features, rescore every contact with every champion (and
    write every recommender's lists), ask for a retrain of a model whose real drift passed the
    setting, and rescore live again whoever a write changed while the build ran (its export
    was taken before that write, so its rows and scores for them are older than the write)."""
    from crm_intel.app import features, scoring
    from features.model_registry import NoChampionError

    began = utc_now()
    crm_export = features.export(ctx)
    built = features.build_features(ctx, crm_export)
    report = RefreshReport(contacts_online=built.contacts_latest)
    write(f"features built: {built.contacts_latest:,} contacts online as of {built.as_of_dates[-1]:%Y-%m-%d}")
    for entry in ctx.catalogue:
        try:
            if entry.kind is ModelKind.RECOMMENDER:
                listed, version = scoring.recommend(ctx, entry.name)
                report.scored[entry.name] = f"v{version}: {listed.inserted:,} recommendations written"
            else:
                scored, version = scoring.score(ctx, entry.name)
                report.scored[entry.name] = f"v{version}: {scored.contacts:,} contacts scored, {scored.stated:,} stated"
                _retrain_if_drifted(ctx, entry.name, version, report, queue)
                _check_outcomes(ctx, entry.name, crm_export, report, queue)
        except NoChampionError:
            report.scored[entry.name] = "no champion yet: not scored"
        write(f"{entry.name}: {report.scored[entry.name]}")
    for line in report.retrain_asked:
        write(f"retrain queued: {line}")
    for line in report.outcome_warnings:
        write(f"warning: {line}")
    session_factory = make_session_factory(ctx.engine)
    with UnitOfWork(session_factory) as uow:
        written_meanwhile = rescoring.rescored_live_since(uow, began, snapshot=built.as_of_dates[-1])
        report.rescored_again = rescoring.request_rescore(uow, written_meanwhile, now=utc_now())
        uow.commit()
    if report.rescored_again:
        write(f"{report.rescored_again:,} contacts written to during the build: rescored live again")
    return report


def _check_outcomes(
    ctx: AppContext, model_name: str, crm_export: CrmExport, report: RefreshReport, queue: JobQueue | None
) -> None:
    """Check the champion's past scores; a warning (live below the holdout) asks for a retrain."""
    from crm_intel.app.modelling import NotCheckableError, check_outcomes

    try:
        checked = check_outcomes(ctx, model_name, crm_export)
    except NotCheckableError:
        return
    if checked.warning:
        report.outcome_warnings.append(f"{model_name}: {checked.warning}")
        _ask_retrain(ctx, model_name, "live performance", "", queue, report)


def _retrain_if_drifted(
    ctx: AppContext, model_name: str, version: str, report: RefreshReport, queue: JobQueue | None
) -> None:
    threshold = ctx.schedules.retrain_on_drift_psi
    worst = ctx.registry.version(model_name, version).worst_drift
    if threshold <= 0 or worst is None or worst < threshold:
        return
    _ask_retrain(ctx, model_name, "drift", f" (worst PSI {worst:.2f} >= {threshold:.2f})", queue, report)


def _ask_retrain(
    ctx: AppContext, model_name: str, trigger: str, figures: str, queue: JobQueue | None, report: RefreshReport
) -> None:
    """Queue a retrain through the promotion gate, unless one is queued or running already; the
    job is named after its `trigger`, the report gives the `figures` too."""
    from serving.model_jobs import TRAIN_MODEL, exclusive_key

    if queue is None:
        return
    name = f"retrain {model_name} on {trigger}"
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        try:
            asked = {"model": model_name, SCHEDULED_BY: name}
            queue.submit(uow, scheduled_principal(name), TRAIN_MODEL, asked, exclusive_key=exclusive_key(model_name))
        except ConflictError:
            return
    report.retrain_asked.append(f"{model_name}: {trigger}{figures}")
