"""Recommendations from the registry's champion recommender, written back to the CRM.

Online (named contacts) and batch (every contact) share one path: ask the recommender, turn
its lists into stamped rows, write them back idempotently. A contact it has never seen gets
the popular items, marked as such.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, sessionmaker

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Contact
from crm_core.errors import NotFoundError
from crm_core.services.access import contact_ids_in_reach
from crm_core.services.recommendations import NewRecommendation, record_recommendations
from crm_core.unit_of_work import UnitOfWork
from features.model_registry import ModelRegistry
from features.model_registry.vocabulary import DATA_TIMESTAMP_PARAM, TOP_K_PARAM
from models.recommenders import Recommender


@dataclass(frozen=True)
class RecommenderChampion:
    model_name: str
    version: str
    run_id: str
    data_timestamp: datetime
    k: int
    recommender: Recommender


def load_recommender(registry: ModelRegistry, model_name: str) -> RecommenderChampion:
    """The verified champion recommender; NoChampionError if none was promoted."""
    record = registry.verified_champion(model_name)
    return RecommenderChampion(
        model_name=model_name,
        version=record.version,
        run_id=record.run_id,
        data_timestamp=datetime.fromisoformat(record.params[DATA_TIMESTAMP_PARAM]),
        k=int(record.params[TOP_K_PARAM]),
        # A runtime-checkable protocol: mypy refuses any protocol as a type argument (type-abstract).
        recommender=registry.load(model_name, record.version, Recommender),  # type: ignore[type-abstract]
    )


def rows_for(champion: RecommenderChampion, contact_ids: Sequence[int]) -> list[NewRecommendation]:
    lists = champion.recommender.recommend(list(contact_ids), champion.k)
    return [
        NewRecommendation(
            contact_id=contact_id,
            product_id=rec.item_id,
            rank=rank,
            score=float(rec.score),
            reason=rec.reason,
            model_name=champion.model_name,
            model_version=champion.version,
            mlflow_run_id=champion.run_id,
            data_timestamp=champion.data_timestamp,
        )
        for contact_id in contact_ids
        for rank, rec in enumerate(lists.get(contact_id, []), start=1)
    ]


@dataclass(frozen=True)
class OnlineRecommendations:
    rows: list[NewRecommendation]
    inserted: int


def recommend_contacts(
    session_factory: sessionmaker[Session], champion: RecommenderChampion, principal: Principal, contact_ids: list[int]
) -> OnlineRecommendations:
    """Recommend for contacts in the caller's reach; any other id answers "not found"."""
    wanted = list(dict.fromkeys(contact_ids))
    with UnitOfWork(session_factory) as uow:
        known = contact_ids_in_reach(uow, principal, "recommendation", Action.CREATE, wanted)
    unknown = [contact_id for contact_id in wanted if contact_id not in known]
    if unknown:
        raise NotFoundError("contact", unknown[0] if len(unknown) == 1 else unknown)
    rows = rows_for(champion, wanted)
    with UnitOfWork(session_factory) as uow:
        written = record_recommendations(uow, principal, rows, written_at=utc_now())
        uow.commit()
    return OnlineRecommendations(rows=rows, inserted=written.inserted)


@dataclass
class RecommendBatchResult:
    contacts: int = 0
    inserted: int = 0
    already_present: int = 0
    rejected: int = 0


def recommend_all(
    engine: Engine,
    champion: RecommenderChampion,
    principal: Principal,
    *,
    batch_size: int,
    on_chunk: Callable[[int], None] | None = None,
) -> RecommendBatchResult:
    """Every contact's list, written chunk by chunk, each chunk in its own transaction; a run
    that dies part-way is finished by running it again (rows already written are skipped)."""
    session_factory = make_session_factory(engine)
    with UnitOfWork(session_factory) as uow:
        contact_ids = list(uow.session.scalars(select(Contact.id).order_by(Contact.id)))
    result = RecommendBatchResult(contacts=len(contact_ids))
    written_at = utc_now()
    for start in range(0, len(contact_ids), batch_size):
        chunk = contact_ids[start : start + batch_size]
        with UnitOfWork(session_factory) as uow:
            written = record_recommendations(uow, principal, rows_for(champion, chunk), written_at=written_at)
            uow.commit()
        result.inserted += written.inserted
        result.already_present += written.already_present
        result.rejected += len(written.rejected)
        if on_chunk is not None:
            on_chunk(len(chunk))
    return result
