"""INSERT ... ON CONFLICT DO NOTHING on the dialects we run on: how write-backs stay idempotent."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.dialects import postgresql, sqlite

from crm_core.sqlite_gate import hold_write_gate
from crm_core.unit_of_work import UnitOfWork


def upsert_insert(dialect: str) -> Any:
    """The `insert` construct that offers ON CONFLICT on `dialect` (PostgreSQL or SQLite)."""
    if dialect == "postgresql":
        return postgresql.insert
    if dialect == "sqlite":
        return sqlite.insert
    raise NotImplementedError(f"upserts are implemented for PostgreSQL and SQLite, not {dialect}")


def plain_values(row: Any, names: Sequence[str], **overrides: Any) -> dict[str, Any]:
    """A shallow dict of a dataclass row for the bulk paths below, `overrides` applied.

    Not `dataclasses.asdict`: its recursive copy of every row cost more than the insert itself
    at a million rows; nested values (a factor list) are shared here, which is safe because the
    insert only reads them."""
    values = {name: getattr(row, name) for name in names}
    values.update(overrides)
    return values


def copy_ignoring_duplicates(uow: UnitOfWork, table: Table, identity: Sequence[str], rows: list[dict[str, Any]]) -> int:
    """PostgreSQL's fast path for the same thing: COPY into a transaction-local staging table,
    then one INSERT ... SELECT ... ON CONFLICT DO NOTHING. Returns the rows inserted.

    Several times faster than a multi-row INSERT for large batches (COPY skips per-statement
    parsing and parameter binding), and still all-or-nothing with the caller's transaction.
    """
    columns = list(rows[0])
    column_list = ", ".join(f'"{name}"' for name in columns)
    staging = f"{table.name}_staging"
    json_columns = {column.name for column in table.columns if isinstance(column.type, JSON)}
    driver = uow.session.connection().connection.driver_connection
    assert driver is not None
    with driver.cursor() as cursor:
        cursor.execute(
            f'CREATE TEMP TABLE IF NOT EXISTS "{staging}" ON COMMIT DELETE ROWS AS '
            f'SELECT {column_list} FROM "{table.name}" WITH NO DATA'
        )
        with cursor.copy(f'COPY "{staging}" ({column_list}) FROM STDIN') as copy:
            for row in rows:
                copy.write_row([json.dumps(row[name]) if name in json_columns else row[name] for name in columns])
        cursor.execute(
            f'INSERT INTO "{table.name}" ({column_list}) SELECT {column_list} FROM "{staging}" '
            f"ON CONFLICT ({', '.join(identity)}) DO NOTHING"
        )
        inserted = cursor.rowcount
        cursor.execute(f'TRUNCATE "{staging}"')
    return int(inserted)


def executemany_ignoring_duplicates(
    uow: UnitOfWork, table: Table, identity: Sequence[str], rows: list[dict[str, Any]]
) -> int:
    """SQLite's fast path: the driver's executemany of one INSERT ... ON CONFLICT DO NOTHING,
    with values converted by the columns' own SQLAlchemy types (so they are stored exactly as
    the ORM would store them). Returns the rows inserted (the connection's change counter)."""
    columns = list(rows[0])
    dialect = uow.session.get_bind().dialect
    processors = [table.c[name].type.dialect_impl(dialect).bind_processor(dialect) for name in columns]
    converted = [
        tuple(
            value if process is None else process(value)
            for process, value in zip(processors, row.values(), strict=True)
        )
        for row in rows
    ]
    connection = uow.session.connection()
    hold_write_gate(connection)
    driver = connection.connection.driver_connection
    assert driver is not None
    before = driver.total_changes
    driver.executemany(
        f'INSERT INTO "{table.name}" ({", ".join(columns)}) VALUES ({", ".join("?" * len(columns))}) '
        f"ON CONFLICT ({', '.join(identity)}) DO NOTHING",
        converted,
    )
    return int(driver.total_changes - before)


def bulk_insert_ignoring_duplicates(
    uow: UnitOfWork, table: Table, identity: Sequence[str], rows: list[dict[str, Any]]
) -> int:
    """The fastest idempotent insert each dialect we run on offers (COPY on PostgreSQL, the
    driver's executemany on SQLite); returns the rows inserted. Every row must carry every
    column the table needs: these paths apply no Python-side column defaults."""
    dialect = uow.session.get_bind().dialect.name
    if dialect == "postgresql":
        return copy_ignoring_duplicates(uow, table, identity, rows)
    if dialect == "sqlite":
        return executemany_ignoring_duplicates(uow, table, identity, rows)
    raise NotImplementedError(f"idempotent write-back is not implemented for {dialect}")
