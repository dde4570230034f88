"""INSERT ... ON CONFLICT DO NOTHING on the dialects we run on: how write-backs stay idempotent."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Insert
from sqlalchemy.dialects import postgresql, sqlite

from crm_core.unit_of_work import UnitOfWork


def insert_ignoring_duplicates(uow: UnitOfWork, entity: Any, identity: Sequence[str]) -> Insert:
    """An insert of `entity` rows that skips any row whose `identity` columns are already stored."""
    dialect = uow.session.get_bind().dialect.name
    if dialect == "postgresql":
        return postgresql.insert(entity).on_conflict_do_nothing(index_elements=list(identity))
    if dialect == "sqlite":
        return sqlite.insert(entity).on_conflict_do_nothing(index_elements=list(identity))
    raise NotImplementedError(f"idempotent write-back is not implemented for {dialect}")
