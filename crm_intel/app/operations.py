"""What an operator sees of the background jobs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.db import make_session_factory
from crm_core.schemas.jobs import JobPublic
from crm_core.unit_of_work import UnitOfWork
from crm_intel.context import AppContext

# The model side (scikit-learn, MLflow, Feast, LightGBM) costs seconds to import: each job
# imports what it uses, so `demo-data`, `import` or `erase` start in well under a second.
if TYPE_CHECKING:
    pass


OPERATOR = Principal.system(Role.ADMIN, "operator")


def recent_jobs(ctx: AppContext, limit: int) -> list[JobPublic]:
    """The newest background jobs of everyone, as an operator sees them (dead workers' jobs
    reported as interrupted)."""
    from crm_core.jobs.runner import reap_dead_workers
    from crm_core.services.jobs import visible_jobs

    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        reap_dead_workers(uow)
        return [JobPublic.model_validate(job) for job in visible_jobs(uow, OPERATOR, limit)]
