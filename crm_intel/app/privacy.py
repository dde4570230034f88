"""Erasure beyond the CRM tables: feature snapshots, the online store, training sets, registered recommenders."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import ErasureReason
from crm_core.services.erasure import ErasureResult, erase_person, mark_purged, pending_purges, scrub_freed_space
from crm_core.unit_of_work import UnitOfWork
from crm_intel.context import AppContext

# The model side (scikit-learn, MLflow, Feast, LightGBM) costs seconds to import: each job
# imports what it uses, so `demo-data`, `import` or `erase` start in well under a second.
if TYPE_CHECKING:
    pass


ERASER = Principal.system(Role.ADMIN, "crm-intel erase")


@dataclass(frozen=True)
class ErasurePurge:
    """What an erasure removed outside the CRM's tables, per place."""

    snapshot_rows_removed: int = 0
    online_rows_removed: int = 0
    training_rows_removed: int = 0
    recommender_versions_rewritten: int = 0

    def line(self) -> str:
        return (
            f"{self.snapshot_rows_removed:,} snapshot rows, {self.online_rows_removed:,} online rows, "
            f"{self.training_rows_removed:,} training-set rows and "
            f"{self.recommender_versions_rewritten:,} registered recommender versions"
        )


def erase(ctx: AppContext, contact_id: int, reason: ErasureReason) -> tuple[ErasureResult, ErasurePurge]:
    """Erase from the CRM (one transaction), then from snapshots and the online store."""
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        result = erase_person(uow, ERASER, contact_id, reason, now=utc_now())
        uow.commit()
        scrub_freed_space(uow)
    return result, purge_pending_erasures(ctx)


def purge_pending_erasures(ctx: AppContext) -> ErasurePurge:
    """Remove every erased person not yet purged from the feature side, the training sets and
    the registered recommenders; marks them done after."""
    from features.erasure import forget_contacts
    from features.model_registry.erasure import forget_in_recommenders
    from training.erasure import purge_training_sets

    session_factory = make_session_factory(ctx.engine)
    with UnitOfWork(session_factory) as uow:
        pending = pending_purges(uow)
    if not pending:
        return ErasurePurge()
    features = forget_contacts(ctx.features, pending)
    purged = ErasurePurge(
        snapshot_rows_removed=features.snapshot_rows_removed,
        online_rows_removed=features.online_rows_removed,
        training_rows_removed=purge_training_sets(ctx.training.training_sets_dir, pending),
        recommender_versions_rewritten=forget_in_recommenders(
            ctx.registry, pending, [entry.name for entry in ctx.catalogue.recommenders()]
        ).versions_rewritten,
    )
    with UnitOfWork(session_factory) as uow:
        mark_purged(uow, pending, now=utc_now())
        uow.commit()
    return purged
