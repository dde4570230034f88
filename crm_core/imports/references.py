"""Records naming other records: an order names its customer by the customer's own id (or
email), a line its product by id or SKU. Names become our ids with one query per chunk of
distinct names; a name that finds nothing, or finds a record out of the importer's reach,
gets the same answer, so an import never tells anyone what another team holds."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import polars as pl
from sqlalchemy import select

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import Base, Contact
from crm_core.imports.value_sets import among
from crm_core.services.access import within_reach
from crm_core.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class Reference:
    """A field that names a `target` record by `column` (after `lookup`), becoming `id_field`."""

    target: type[Base]
    column: str
    id_field: str
    what: str  # "contact with external id", for the reason a row is refused
    lookup: Callable[[str], str | None] | None = None


def resolve(
    uow: UnitOfWork, principal: Principal, entity: str, reference: Reference, names: pl.Series
) -> dict[str, int]:
    """name -> id for every name that finds a record the importer may link `entity` records to."""
    distinct = names.drop_nulls().unique().to_list()
    keyed = {name: reference.lookup(name) if reference.lookup else name for name in distinct}
    column = getattr(reference.target, reference.column)
    target_id = reference.target.id  # type: ignore[attr-defined]
    keys = [key for key in keyed.values() if key is not None]
    query = select(column, target_id).where(among(column, keys, uow.session.get_bind().dialect.name))
    if reference.target is Contact:
        # The importer's reach in the same query: a contact out of it is not found.
        query = within_reach(query, Contact.owner_id, principal, principal.require(entity, Action.CREATE))
    by_key: dict[Any, int] = dict(uow.session.execute(query).tuples().all()) if keys else {}
    return {name: by_key[key] for name, key in keyed.items() if key in by_key}
