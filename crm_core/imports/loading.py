"""Writing parsed rows: fold a file's repeats, leave records already present alone, insert the rest.

The rows are checked and typed by then, so they go to the driver's own bulk path (COPY, or
`executemany`) inside the import's one transaction.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

import polars as pl
from sqlalchemy import JSON, Dialect, Table, func, select, text
from sqlalchemy.orm import InstrumentedAttribute
from sqlalchemy.types import TypeDecorator

from crm_core.entities import Base
from crm_core.imports.bulk_records import REFUSED, LoadContext, Loaded, Loader
from crm_core.protection.column_types import EncryptedText
from crm_core.sqlite_gate import hold_write_gate
from crm_core.unit_of_work import UnitOfWork
from crm_core.value_sets import where_among

INSERT_CHUNK = 10_000
# How SQLAlchemy writes a DateTime on SQLite: rows written here read back like any other.
SQLITE_TIMESTAMP = "%Y-%m-%d %H:%M:%S%.6f"


def fold_repeats(rows: pl.DataFrame, keys: Iterable[str]) -> tuple[pl.DataFrame, int]:
    """The first row for each key value (rows without one are all kept), and how many folded."""
    kept = rows
    for key in keys:
        kept = kept.filter(pl.col(key).is_null() | pl.col(key).is_first_distinct())
    return kept, rows.height - kept.height


def already_stored(uow: UnitOfWork, model: type[Base], column: str, values: pl.Series) -> set[Any]:
    """Which of `values` a stored record of `model` already holds in `column`."""
    wanted = values.drop_nulls().unique().to_list()
    if not wanted:
        return set()
    attribute = getattr(model, column)
    dialect = uow.session.get_bind().dialect.name
    return set(uow.session.scalars(where_among(select(attribute), attribute, wanted, dialect)))


def stored_rows(
    uow: UnitOfWork,
    columns: Sequence[InstrumentedAttribute[Any]],
    keyed_by: InstrumentedAttribute[Any],
    keys: Sequence[Any],
    schema: pl.Schema,
) -> pl.DataFrame:
    """`columns` of the stored rows whose `keyed_by` is one of `keys` (a file's contacts, deals),
    as a frame of `schema`: what a loader compares the file's rows with, in one query."""
    if not keys:
        return pl.DataFrame(schema=schema)
    dialect = uow.session.get_bind().dialect.name
    query = where_among(select(*columns), keyed_by, keys, dialect)
    return pl.DataFrame(uow.session.execute(query).tuples().all(), schema=schema, orient="row")


def new_rows(
    uow: UnitOfWork, model: type[Base], parsed: pl.DataFrame, keys: Iterable[str]
) -> tuple[pl.DataFrame, Loaded]:
    """The good rows naming records not stored yet (repeats in the file folded into their first
    row, records whose key is stored left alone), and the counts of what was set aside."""
    keys = tuple(keys)
    good, folded = fold_repeats(parsed.filter(~pl.col(REFUSED)), keys)
    present = pl.lit(False)
    for key in keys:
        stored = already_stored(uow, model, key, good[key])
        present = present | pl.col(key).is_in(list(stored)).fill_null(False)  # no key: never stored
    fresh = good.filter(~present)
    return fresh, Loaded(unchanged=good.height - fresh.height, duplicates_in_file=folded)


def insert_rows(uow: UnitOfWork, model: type[Base], rows: pl.DataFrame) -> None:
    """Rows of `model` as typed by the import, straight to the driver: COPY on PostgreSQL,
    `executemany` on SQLite (timestamps in the text form SQLAlchemy itself stores there).
    Columns with a type of their own (encrypted text, JSON) get the form that type binds."""
    if rows.is_empty():
        return
    table: Table = model.__table__  # type: ignore[assignment]
    columns = ", ".join(table.c[name].name for name in rows.columns)
    connection = uow.session.connection()
    rows = _bound_form(table, rows, connection.dialect)
    if connection.dialect.name == "postgresql":
        driver = connection.connection.driver_connection
        with driver.cursor() as cursor, cursor.copy(f"COPY {table.name} ({columns}) FROM STDIN") as copy:  # type: ignore[union-attr]
            for row in rows.iter_rows():
                copy.write_row(row)
        return
    stored = rows.with_columns(pl.col(pl.Datetime).dt.strftime(SQLITE_TIMESTAMP))
    marks = ", ".join("?" * len(rows.columns))
    statement = f"INSERT INTO {table.name} ({columns}) VALUES ({marks})"
    for chunk in stored.iter_slices(INSERT_CHUNK):
        connection.exec_driver_sql(statement, chunk.rows())


def _bound_form(table: Table, rows: pl.DataFrame, dialect: Dialect) -> pl.DataFrame:
    """What the column types would hand the driver: an encrypted column's ciphertext (through
    the type's own `process_bind_param`), a JSON column's text."""
    bound: list[pl.Series] = []
    for name in rows.columns:
        column_type = table.c[name].type
        if isinstance(column_type, EncryptedText):
            values = column_type.bind_many(rows[name].to_list())
        elif isinstance(column_type, TypeDecorator):
            bind = column_type.process_bind_param
            values = [None if value is None else bind(value, dialect) for value in rows[name].to_list()]
        elif isinstance(column_type, JSON):
            values = [_json_text(value) for value in rows[name].to_list()]
        else:
            continue
        bound.append(pl.Series(name, values, dtype=pl.String))
    return rows.with_columns(bound) if bound else rows


def _json_text(value: Any) -> str | None:
    # Most imported records carry no custom values: their empty object is written as is.
    if value is None:
        return None
    return "{}" if value == {} else json.dumps(value)


def reserve_ids(uow: UnitOfWork, model: type[Base], count: int) -> list[int]:
    """`count` new ids for `model`, so a record's children can name it without a round trip
    per record. PostgreSQL hands them from the table's sequence (safe beside other writers).
    On SQLite the import takes the file's write gate before reading the highest id, so no other
    writer can take those ids before the import's rows go in (the gate is held to commit); a
    writer outside the gate would make the insert fail, never merge."""
    if count == 0:
        return []
    table: Table = model.__table__  # type: ignore[assignment]
    connection = uow.session.connection()
    if connection.dialect.name == "postgresql":
        statement = text(f"SELECT nextval(pg_get_serial_sequence('{table.name}', 'id')) FROM generate_series(1, :n)")
        return list(connection.execute(statement, {"n": count}).scalars())
    hold_write_gate(connection)
    highest = connection.execute(select(func.coalesce(func.max(table.c.id), 0))).scalar_one()
    return list(range(highest + 1, highest + 1 + count))


def _expression(value: Any) -> pl.Expr:
    """A default is a value, or an expression over the row's other fields."""
    return value if isinstance(value, pl.Expr) else pl.lit(value)


def new_records_loader(
    model: type[Base], columns: tuple[str, ...], *, keys: tuple[str, ...] = ("external_id",), defaults: Any = None
) -> Loader:
    """A loader for kinds whose records are one row each: `keys` name a record (a second row with
    the same key is folded, a stored record with it is left unchanged); `defaults(ctx)` gives
    the values (or expressions over the row) of fields a row left empty."""

    def load(ctx: LoadContext, parsed: pl.DataFrame) -> Loaded:
        fresh, loaded = new_rows(ctx.uow, model, parsed, keys)
        filled = fresh.with_columns(
            [
                pl.col(name).fill_null(_expression(value)) if name in fresh.columns else _expression(value).alias(name)
                for name, value in (defaults(ctx) if defaults else {}).items()
            ]
        )
        insert_rows(ctx.uow, model, filled.select(columns))
        loaded.inserted = fresh.height
        return loaded

    return load
