"""Model operations started from the web pages: jobs on the job queue, run by the worker.

Retraining takes minutes of CPU and must not stall a server worker; promotion and rollback
belong to the training side's registry rules, which the server does not import. So the page
records a job and queues it; the worker (`crm-intel worker`, started by `serve`) runs it with
the same application functions the CLI calls, and the page follows its record. One job per
model at a time: the jobs table's unique index on the model's key refuses a second.
"""

from __future__ import annotations

from typing import Any

from crm_core.auth.principal import Principal
from crm_core.entities import Job
from crm_core.jobs.queue import JobQueue
from crm_core.unit_of_work import UnitOfWork

TRAIN_MODEL = "train_model"
PROMOTE_MODEL = "promote_model"
ROLL_BACK_MODEL = "roll_back_model"
ACTIONS = {TRAIN_MODEL: "retrain", PROMOTE_MODEL: "promote", ROLL_BACK_MODEL: "roll back"}


def exclusive_key(model_name: str) -> str:
    return f"model:{model_name}"


def start_model_job(
    uow: UnitOfWork, principal: Principal, queue: JobQueue, kind: str, model_name: str, **arguments: Any
) -> Job:
    """Record the job (409 while the model has one queued or running), commit, then queue it."""
    return queue.submit(
        uow, principal, kind, {"model": model_name, **arguments}, exclusive_key=exclusive_key(model_name)
    )
