"""Why a model does not score a contact: population states, kept exclusive with current scores.

Batch scoring scores a model's population and states the reason for everyone else at the same
snapshot ("already lapsed", "not a lead"). A state takes the contact's current score of that
model away, and a newer score takes the state away, each in its own write's transaction: lists,
segments and the record read either a score or a reason, never a stale score beside a reason.
Neither moves the other back: only a decision on a snapshot at least as new replaces one.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any, NamedTuple, cast

from sqlalchemy import Table, delete, insert, select

from crm_core.auth.policy import Action, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import CurrentScore, PopulationState
from crm_core.errors import InvalidPredictionError
from crm_core.services import audit
from crm_core.services.access import rows_in_reach
from crm_core.services.current_scores import IN_LIST_CHUNK
from crm_core.unit_of_work import UnitOfWork

MAX_STATE_LENGTH = 120
_STATES = cast(Table, PopulationState.__table__)


def _chunks(contact_ids: Sequence[int]) -> Iterator[list[int]]:
    ordered = sorted(set(contact_ids))
    for start in range(0, len(ordered), IN_LIST_CHUNK):
        yield ordered[start : start + IN_LIST_CHUNK]


def record_population_states(
    uow: UnitOfWork,
    principal: Principal,
    model_name: str,
    states: Sequence[tuple[int, str]],
    *,
    feature_timestamp: datetime,
    decided_at: datetime,
) -> tuple[int, list[InvalidPredictionError]]:
    """Store each (contact_id, state) for `model_name` on the snapshot `feature_timestamp`:
    their current scores from that snapshot or an older one go, and a contact scored on a newer
    snapshot keeps its score. Returns the states stored and the rows refused (out of reach,
    unknown contact, a blank or overlong state). The caller commits through the unit of work."""
    problems = [
        InvalidPredictionError(index, "state", "must be 1 to 120 characters")
        for index, (_, state) in enumerate(states)
        if not state.strip() or len(state) > MAX_STATE_LENGTH
    ]
    contact_ids = [contact_id for contact_id, _ in states]
    kept, out_of_reach = rows_in_reach(uow, principal, "prediction", contact_ids, {problem.row for problem in problems})
    problems.extend(out_of_reach)
    stated = {states[index][0]: states[index][1] for index in kept}
    session = uow.session
    newer: set[int] = set()
    for chunk in _chunks(list(stated)):
        of_these = (CurrentScore.model_name == model_name) & CurrentScore.contact_id.in_(chunk)
        session.execute(
            delete(CurrentScore).where(of_these, CurrentScore.feature_timestamp <= feature_timestamp),
            execution_options={"synchronize_session": False},
        )
        newer.update(session.scalars(select(CurrentScore.contact_id).where(of_these)))
        session.execute(
            delete(PopulationState).where(
                PopulationState.model_name == model_name,
                PopulationState.contact_id.in_(chunk),
                PopulationState.feature_timestamp <= feature_timestamp,
            ),
            execution_options={"synchronize_session": False},
        )
        newer.update(
            session.scalars(
                select(PopulationState.contact_id).where(
                    PopulationState.model_name == model_name, PopulationState.contact_id.in_(chunk)
                )
            )
        )
    payload: list[dict[str, Any]] = [
        {
            "model_name": model_name,
            "contact_id": contact_id,
            "state": state,
            "feature_timestamp": feature_timestamp,
            "decided_at": decided_at,
        }
        for contact_id, state in stated.items()
        if contact_id not in newer
    ]
    if payload:
        session.execute(insert(_STATES), payload)
    audit.record(
        uow,
        principal,
        action="prediction.population_states",
        entity="prediction",
        details={"model": model_name, "stated": len(payload), "rejected": len(problems)},
        at=decided_at,
    )
    return len(payload), problems


def clear_population_states(
    uow: UnitOfWork, model_name: str, contact_ids: Sequence[int], *, feature_timestamp: datetime
) -> None:
    """A score just written on `feature_timestamp` replaces the contacts' states of that model
    from that snapshot or an older one (called inside the write-back's own transaction)."""
    for chunk in _chunks(contact_ids):
        uow.session.execute(
            delete(PopulationState).where(
                PopulationState.model_name == model_name,
                PopulationState.contact_id.in_(chunk),
                PopulationState.feature_timestamp <= feature_timestamp,
            ),
            execution_options={"synchronize_session": False},
        )


def population_states_of(uow: UnitOfWork, principal: Principal, contact_id: int) -> list[PopulationState]:
    """The contact's states, by model, for a viewer who may read scores (empty otherwise)."""
    if principal.scope("prediction", Action.READ) is Scope.NONE:
        return []
    query = select(PopulationState).where(PopulationState.contact_id == contact_id).order_by(PopulationState.model_name)
    return list(uow.session.scalars(query))


class StatedContact(NamedTuple):
    contact_id: int
    state: str
    feature_timestamp: datetime
