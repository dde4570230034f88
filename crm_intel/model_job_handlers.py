"""What the worker does for the model jobs the pages start: the same application functions the
`crm-intel train / models promote / models rollback` commands call, logging into the job."""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from crm_core.auth.policy import Action
from crm_core.jobs.runner import Handler, JobFailedError, JobRun
from crm_intel.context import AppContext
from crm_intel.refusals import model_refusals
from serving.model_jobs import PROMOTE_MODEL, ROLL_BACK_MODEL, TRAIN_MODEL


def model_handlers(context: AppContext) -> dict[str, Handler]:
    from crm_intel.app.schedules import REFRESH_SCORES

    return {
        TRAIN_MODEL: partial(_train, context),
        PROMOTE_MODEL: partial(_promote, context),
        ROLL_BACK_MODEL: partial(_roll_back, context),
        REFRESH_SCORES: partial(_refresh, context),
    }


def _refresh(context: AppContext, run: JobRun) -> dict[str, Any]:
    """The nightly feature build and rescore (a schedule's, or an administrator's)."""
    from crm_core.jobs.queue import JobQueue
    from crm_intel.app.schedules import refresh_and_rescore

    run.principal.require("model", Action.UPDATE)
    run.principal.require("prediction", Action.CREATE)
    return _told(lambda: vars(refresh_and_rescore(context, run.log, JobQueue.from_settings(context.core))))


def _told(work: Callable[[], dict[str, Any]]) -> dict[str, Any]:
    try:
        return work()
    except model_refusals() as error:  # the runner tells CrmError as it is
        raise JobFailedError(str(error)) from error


def _model(run: JobRun, action: Action) -> str:
    run.principal.require("model", action)  # as the requester is now, not as when they clicked
    return str(run.parameters["model"])


def _train(context: AppContext, run: JobRun) -> dict[str, Any]:
    from crm_intel.app import modelling
    from features.catalogue import ModelKind

    name = _model(run, Action.CREATE)

    def work() -> dict[str, Any]:
        if context.catalogue.get(name).kind is ModelKind.RECOMMENDER:
            recommender = modelling.train_recommender(context, name, write=run.log)
            version, decision = recommender.version, recommender.decision
        else:
            scorer = modelling.train(context, name, write=run.log)
            version, decision = scorer.version, scorer.decision
        verdict = "promoted to champion" if decision.promote else "kept as challenger"
        run.log(f"registered {name} v{version}: {verdict} ({decision.reason})")
        return {"version": version, "promoted": decision.promote, "reason": decision.reason}

    return _told(work)


def _promote(context: AppContext, run: JobRun) -> dict[str, Any]:
    from crm_intel.app import modelling

    name = _model(run, Action.UPDATE)
    version = str(run.parameters["version"])

    def work() -> dict[str, Any]:
        done = modelling.promote(context, name, version)
        before = f"v{done.from_version}" if done.from_version else "no champion"
        run.log(f"{name}: champion moved from {before} to v{done.to_version}")
        return {"from_version": done.from_version, "to_version": done.to_version}

    return _told(work)


def _roll_back(context: AppContext, run: JobRun) -> dict[str, Any]:
    from crm_intel.app import modelling

    name = _model(run, Action.UPDATE)

    def work() -> dict[str, Any]:
        done = modelling.roll_back(context, name)
        run.log(f"{name}: champion moved back from v{done.from_version} to v{done.to_version}")
        return {"from_version": done.from_version, "to_version": done.to_version}

    return _told(work)
