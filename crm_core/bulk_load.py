"""Bulk loading of whole tables (demo data, public data sets): Core executemany in chunks
inside one transaction, into an empty CRM only."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import polars as pl
from sqlalchemy import Engine, Table, func, insert, select, text

from crm_core.entities import Base, Contact
from crm_core.errors import DatabaseNotEmptyError
from crm_core.protection.lookup import with_lookups
from crm_core.services.contact_history import FIRST_STAGES

CHUNK_ROWS = 20_000

ProgressCallback = Callable[[str, int], None]


def contact_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Contact)).scalar_one())


def load_tables(
    engine: Engine, tables: dict[str, pl.DataFrame], on_progress: ProgressCallback | None = None
) -> dict[str, int]:
    """Insert every table in one transaction: a failure leaves the CRM as it was.

    Refuses a CRM that already holds contacts, so loaded rows (with their own ids) never mix
    with real records.
    """
    if contact_count(engine) > 0:
        raise DatabaseNotEmptyError("the CRM already holds contacts; bulk loads go into an empty CRM only")
    loaded: dict[str, int] = {}
    with engine.begin() as connection:
        for name, frame in tables.items():
            table: Table = Base.metadata.tables[name]
            for chunk in frame.iter_slices(CHUNK_ROWS):
                connection.execute(insert(table), with_lookups(name, _without_empty_custom(chunk.to_dicts())))
                if on_progress is not None:
                    on_progress(name, chunk.height)
            loaded[name] = frame.height
        if "contacts" in tables:
            connection.execute(text(FIRST_STAGES))
        if connection.dialect.name == "postgresql":
            _advance_sequences(connection, list(tables))
    return loaded


def _without_empty_custom(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Custom values built as polars structs carry every field; an absent value is no key."""
    if not rows or "custom" not in rows[0]:
        return rows
    for row in rows:
        if row["custom"] is not None:
            row["custom"] = {name: value for name, value in row["custom"].items() if value is not None}
    return rows


def _advance_sequences(connection: object, table_names: list[str]) -> None:
    # Explicit ids leave PostgreSQL's serial sequences at 1; move them past the loaded rows.
    for name in table_names:
        connection.execute(  # type: ignore[attr-defined]
            text(
                f"SELECT setval(pg_get_serial_sequence('{name}', 'id'), "
                f"COALESCE((SELECT MAX(id) FROM {name}), 0) + 1, false)"
            )
        )


KEPT_ON_CLEAR = frozenset({"audit_events", "audit_chain_head"})


def clear_crm(engine: Engine) -> None:
    """Delete every CRM row (children first), for regenerating demo data in place.

    The audit trail stays: it is append-only by design and records that the clear happened.
    """
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            if table.name not in KEPT_ON_CLEAR:
                connection.execute(table.delete())
