"""Record-level access for contact-owned data, resolved in SQL in one query per chunk."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Select, select
from sqlalchemy.orm import InstrumentedAttribute, aliased

from crm_core.auth.policy import Action, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import Contact, User
from crm_core.errors import InvalidPredictionError
from crm_core.unit_of_work import UnitOfWork

CHUNK = 5_000


def within_reach(
    query: Select[Any], owner_column: InstrumentedAttribute[int | None], principal: Principal, scope: Scope
) -> Select[Any]:
    """Narrow `query` to rows whose owner the principal reaches with `scope`."""
    if scope is Scope.ALL:
        return query
    if scope is Scope.TEAM and principal.team_id is not None:
        owner = aliased(User)
        return query.join(owner, owner.id == owner_column).where(owner.team_id == principal.team_id)
    return query.where(owner_column == principal.user_id)


def contact_ids_in_reach(
    uow: UnitOfWork, principal: Principal, entity: str, action: Action, contact_ids: Iterable[int]
) -> set[int]:
    """The subset of `contact_ids` that exist and whose `entity` records (the contact itself,
    or data owned through it such as its scores) `principal` may `action`.

    Raises ForbiddenError when the role may never `action` that entity.
    """
    scope = principal.require(entity, action)
    wanted = sorted(set(contact_ids))
    found: set[int] = set()
    for start in range(0, len(wanted), CHUNK):
        chunk = wanted[start : start + CHUNK]
        low, high = chunk[0], chunk[-1]
        if high - low < 2 * len(chunk):
            # Dense ids (a batch over every contact): a range scan, filtered here, instead of
            # an IN list of thousands of parameters the driver and planner must parse.
            query = select(Contact.id).where(Contact.id.between(low, high))
        else:
            query = select(Contact.id).where(Contact.id.in_(chunk))
        found.update(set(uow.session.scalars(within_reach(query, Contact.owner_id, principal, scope))) & set(chunk))
    return found


def rows_in_reach(
    uow: UnitOfWork,
    principal: Principal,
    entity: str,
    contact_ids: Sequence[int],
    skip: set[int],
    *,
    reachable: set[int] | None = None,
) -> tuple[list[int], list[InvalidPredictionError]]:
    """For a write-back batch (row i is about contact_ids[i]): the rows, other than `skip`, whose
    contact the principal may write `entity` for, and one problem naming each other row.

    `reachable`, when the caller already looked it up in this transaction, saves the query; the
    policy is still asked, so a role that may never write `entity` is refused either way."""
    if reachable is None:
        reachable = contact_ids_in_reach(uow, principal, entity, Action.CREATE, set(contact_ids))
    else:
        principal.require(entity, Action.CREATE)
    kept: list[int] = []
    problems: list[InvalidPredictionError] = []
    for index, contact_id in enumerate(contact_ids):
        if index in skip:
            continue
        if contact_id in reachable:
            kept.append(index)
        else:
            problems.append(
                InvalidPredictionError(index, "contact_id", f"{contact_id} is not a known contact in reach")
            )
    return kept, problems
