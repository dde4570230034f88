"""Records naming other records: an order names its customer by the customer's own id (or
email), a line its product by id or SKU. Names become our ids with one query for all the
distinct names of a field; a name that finds nothing, or finds a record out of the importer's reach,
gets the same answer, so an import never tells anyone what another team holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import select

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import Base
from crm_core.services.access import within_reach
from crm_core.unit_of_work import UnitOfWork
from crm_core.value_sets import where_among


@dataclass(frozen=True)
class Reach:
    """Whose records a reference may find: those whose `owner` the importer reaches for
    `action` on `entity` (None: the entity being imported, e.g. an order's contact)."""

    action: Action
    entity: str | None = None
    owner: str = "owner_id"


@dataclass(frozen=True)
class Reference:
    """A field that names a `target` record by `column` (after `lookup`), becoming `id_field`.
    Without `reach` every record is found (the product catalogue)."""

    target: type[Base]
    column: str
    id_field: str
    what: str  # "contact with external id", for the reason a row is refused
    lookup: Callable[[str], str | None] | None = None
    reach: Reach | None = None


def resolve(
    uow: UnitOfWork, principal: Principal, entity: str, reference: Reference, names: pl.Series
) -> dict[str, int]:
    """name -> id for every name that finds a record the importer may link `entity` records to."""
    distinct = names.drop_nulls().unique().to_list()
    keyed = {name: reference.lookup(name) if reference.lookup else name for name in distinct}
    column = getattr(reference.target, reference.column)
    target_id = reference.target.id  # type: ignore[attr-defined]
    keys = [key for key in keyed.values() if key is not None]
    query = where_among(select(column, target_id), column, keys, uow.session.get_bind().dialect.name)
    if reference.reach is not None:
        # The importer's reach in the same query: a record out of it is not found.
        rule = reference.reach
        scope = principal.require(rule.entity or entity, rule.action)
        query = within_reach(query, getattr(reference.target, rule.owner), principal, scope)
    by_key: dict[Any, int] = dict(uow.session.execute(query).tuples().all()) if keys else {}
    return {name: by_key[key] for name, key in keyed.items() if key in by_key}
