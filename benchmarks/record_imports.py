"""Bulk import per record kind: `import_records` from a text file's frame (parse, validate,
resolve references by external id, fold, skip stored records, insert, audit) beside the raw
driver's `executemany` of the same rows already typed (the floor: no parsing, no checks), into
the same empty CRM, on SQLite and on PostgreSQL.

Orders come as a shop exports them: one row per line with the order's fields repeated.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sqlalchemy import Engine

from benchmarks.results import Figure
from benchmarks.write_back import scratch_database
from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.bulk_load import load_tables
from crm_core.db import make_session_factory
from crm_core.imports.bulk_records import ImportMapping, RecordKind, import_records
from crm_core.imports.contacts import contact_kind
from crm_core.imports.record_kinds import ACCOUNTS, ACTIVITIES, CONSENTS, DEALS, ORDERS, PRODUCTS, TICKETS
from crm_core.protection import keyring
from crm_core.protection.lookup import email_lookup
from crm_core.unit_of_work import UnitOfWork

IMPORTER = Principal.system(Role.ADMIN, "benchmark import")
START = datetime(2024, 1, 1)
NOW = datetime(2026, 1, 1)
CUSTOMERS = 20_000
CATALOGUE = 2_000
LINES_PER_ORDER = 2
WARM_UP_ROWS = 200


def _customers_and_catalogue(engine: Engine) -> None:
    """The records the imported rows name, loaded up front (untimed) with external ids."""
    load_tables(
        engine,
        {
            "contacts": pl.DataFrame(
                {
                    "id": range(1, CUSTOMERS + 1),
                    "external_id": [f"C{n}" for n in range(1, CUSTOMERS + 1)],
                    "first_name": ["Bench"] * CUSTOMERS,
                    "last_name": ["Customer"] * CUSTOMERS,
                    "lifecycle_stage": ["customer"] * CUSTOMERS,
                    "created_at": [START] * CUSTOMERS,
                }
            ),
            "products": pl.DataFrame(
                {
                    "id": range(1, CATALOGUE + 1),
                    "external_id": [f"P{n}" for n in range(1, CATALOGUE + 1)],
                    "sku": [f"SKU-{n}" for n in range(1, CATALOGUE + 1)],
                    "name": ["Item"] * CATALOGUE,
                    "category": ["general"] * CATALOGUE,
                    "unit_price": [9.99] * CATALOGUE,
                }
            ),
        },
    )


def _moments(rng: np.random.Generator, count: int) -> list[datetime]:
    return [START + timedelta(minutes=int(m)) for m in rng.integers(0, 700 * 24 * 60, count)]


def _orders_file(rows: int, rng: np.random.Generator) -> tuple[pl.DataFrame, ImportMapping, Callable[[Any], None]]:
    orders = rows // LINES_PER_ORDER
    customer = rng.integers(1, CUSTOMERS + 1, orders)
    placed = _moments(rng, orders)
    product = rng.integers(1, CATALOGUE + 1, orders * LINES_PER_ORDER)
    quantity = rng.integers(1, 5, orders * LINES_PER_ORDER)
    order_of = np.repeat(np.arange(1, orders + 1), LINES_PER_ORDER)
    text = pl.DataFrame(
        {
            "Invoice": [f"INV{n}" for n in order_of],
            "Customer": [f"C{customer[n - 1]}" for n in order_of],
            "Date": [placed[n - 1].isoformat(sep=" ") for n in order_of],
            "SKU": [f"SKU-{p}" for p in product],
            "Qty": [str(q) for q in quantity],
            "Price": ["9.99"] * len(order_of),
        }
    )
    mapping = ImportMapping(
        {
            "external_id": "Invoice",
            "contact": "Customer",
            "ordered_at": "Date",
            "sku": "SKU",
            "quantity": "Qty",
            "unit_price": "Price",
        }
    )

    def raw(cursor: Any) -> None:
        cursor.executemany(
            "INSERT INTO orders (id, external_id, contact_id, ordered_at, status, total) "
            "VALUES (%s, %s, %s, %s, %s, %s)",
            [(n, f"INV{n}", int(customer[n - 1]), placed[n - 1], "completed", 0.0) for n in range(1, orders + 1)],
        )
        cursor.executemany(
            "INSERT INTO order_lines (order_id, product_id, quantity, unit_price) VALUES (%s, %s, %s, %s)",
            [(int(o), int(p), float(q), 9.99) for o, p, q in zip(order_of, product, quantity, strict=True)],
        )

    return text, mapping, raw


def _activities_file(rows: int, rng: np.random.Generator) -> tuple[pl.DataFrame, ImportMapping, Callable[[Any], None]]:
    customer = rng.integers(1, CUSTOMERS + 1, rows)
    moments = _moments(rng, rows)
    channel = rng.choice(["email", "phone", "web"], rows)
    text = pl.DataFrame(
        {
            "id": [f"E{n}" for n in range(rows)],
            "customer": [f"C{c}" for c in customer],
            "type": ["email_open"] * rows,
            "channel": list(channel),
            "at": [moment.isoformat(sep=" ") for moment in moments],
        }
    )
    mapping = ImportMapping({"external_id": "id", "contact": "customer", "occurred_at": "at"})

    def raw(cursor: Any) -> None:
        cursor.executemany(
            "INSERT INTO activities (external_id, contact_id, type, channel, occurred_at) VALUES (%s, %s, %s, %s, %s)",
            [(f"E{n}", int(customer[n]), "email_open", str(channel[n]), moments[n]) for n in range(rows)],
        )

    return text, mapping, raw


def _accounts_file(rows: int, _rng: np.random.Generator) -> tuple[pl.DataFrame, ImportMapping, Callable[[Any], None]]:
    text = pl.DataFrame({"ref": [f"A{n}" for n in range(rows)], "name": [f"Company {n}" for n in range(rows)]})

    def raw(cursor: Any) -> None:
        cursor.executemany(
            "INSERT INTO accounts (external_id, name, created_at) VALUES (%s, %s, %s)",
            [(f"A{n}", f"Company {n}", NOW) for n in range(rows)],
        )

    return text, ImportMapping({"external_id": "ref"}), raw


def _products_file(rows: int, _rng: np.random.Generator) -> tuple[pl.DataFrame, ImportMapping, Callable[[Any], None]]:
    text = pl.DataFrame(
        {
            "ref": [f"NP{n}" for n in range(rows)],
            "sku": [f"NEW-{n}" for n in range(rows)],
            "name": ["New item"] * rows,
            "unit_price": ["4.50"] * rows,
        }
    )

    def raw(cursor: Any) -> None:
        cursor.executemany(
            "INSERT INTO products (external_id, sku, name, category, unit_price) VALUES (%s, %s, %s, %s, %s)",
            [(f"NP{n}", f"NEW-{n}", "New item", "uncategorised", 4.5) for n in range(rows)],
        )

    return text, ImportMapping({"external_id": "ref"}), raw


def _deals_file(rows: int, rng: np.random.Generator) -> tuple[pl.DataFrame, ImportMapping, Callable[[Any], None]]:
    customer = rng.integers(1, CUSTOMERS + 1, rows)
    opened = _moments(rng, rows)
    text = pl.DataFrame(
        {
            "ref": [f"D{n}" for n in range(rows)],
            "name": ["Renewal"] * rows,
            "customer": [f"C{c}" for c in customer],
            "amount": ["1200.00"] * rows,
            "opened": [moment.isoformat(sep=" ") for moment in opened],
        }
    )
    mapping = ImportMapping({"external_id": "ref", "contact": "customer", "opened_at": "opened"})

    def raw(cursor: Any) -> None:
        cursor.executemany(
            "INSERT INTO deals (id, external_id, name, amount, stage, status, contact_id, opened_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s, %s)",
            [
                (n + 1, f"D{n}", "Renewal", 1200.0, "prospecting", "open", int(customer[n]), opened[n])
                for n in range(rows)
            ],
        )
        cursor.executemany(
            "INSERT INTO deal_stage_history (deal_id, to_stage, changed_at) VALUES (%s, %s, %s)",
            [(n + 1, "prospecting", opened[n]) for n in range(rows)],
        )

    return text, mapping, raw


def _tickets_file(rows: int, rng: np.random.Generator) -> tuple[pl.DataFrame, ImportMapping, Callable[[Any], None]]:
    customer = rng.integers(1, CUSTOMERS + 1, rows)
    opened = _moments(rng, rows)
    text = pl.DataFrame(
        {
            "ref": [f"T{n}" for n in range(rows)],
            "customer": [f"C{c}" for c in customer],
            "channel": ["email"] * rows,
            "subject": ["Delivery late"] * rows,
            "opened": [moment.isoformat(sep=" ") for moment in opened],
        }
    )
    mapping = ImportMapping({"external_id": "ref", "contact": "customer", "opened_at": "opened"})

    def raw(cursor: Any) -> None:
        cursor.executemany(
            "INSERT INTO tickets (external_id, contact_id, channel, priority, status, subject, opened_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            [(f"T{n}", int(customer[n]), "email", "normal", "open", "Delivery late", opened[n]) for n in range(rows)],
        )

    return text, mapping, raw


def _consents_file(rows: int, rng: np.random.Generator) -> tuple[pl.DataFrame, ImportMapping, Callable[[Any], None]]:
    customer = rng.integers(1, CUSTOMERS + 1, rows)
    recorded = _moments(rng, rows)
    text = pl.DataFrame(
        {
            "customer": [f"C{c}" for c in customer],
            "channel": ["email"] * rows,
            "status": ["granted"] * rows,
            "at": [moment.isoformat(sep=" ") for moment in recorded],
        }
    )
    mapping = ImportMapping({"contact": "customer", "recorded_at": "at"})

    def raw(cursor: Any) -> None:
        cursor.executemany(
            "INSERT INTO consents (contact_id, channel, status, source, recorded_at) VALUES (%s, %s, %s, %s, %s)",
            [(int(customer[n]), "email", "granted", "import", recorded[n]) for n in range(rows)],
        )

    return text, mapping, raw


def _contacts_file(rows: int, _rng: np.random.Generator) -> tuple[pl.DataFrame, ImportMapping, Callable[[Any], None]]:
    """New customers with an id, a name and an email; the floor inserts them already encrypted
    and hashed (what our import must compute is outside its timing)."""
    text = pl.DataFrame(
        {
            "CustomerID": [f"N{n}" for n in range(rows)],
            "First": ["Ada"] * rows,
            "Last": [f"Lind{n}" for n in range(rows)],
            "Email": [f"ada.{n}@example.com" for n in range(rows)],
        }
    )
    mapping = ImportMapping({"external_id": "CustomerID", "first_name": "First", "last_name": "Last", "email": "Email"})
    keys = keyring.active()
    stored = [
        (
            f"N{n}",
            "Ada",
            f"Lind{n}",
            keys.encrypt(f"ada.{n}@example.com", "contacts.email"),
            email_lookup(f"ada.{n}@example.com"),
            "lead",
            NOW,
        )
        for n in range(rows)
    ]

    def raw(cursor: Any) -> None:
        cursor.executemany(
            "INSERT INTO contacts (external_id, first_name, last_name, email, email_hash, lifecycle_stage, created_at) "
            "VALUES (%s, %s, %s, %s, %s, %s, %s)",
            stored,
        )

    return text, mapping, raw


FILES: dict[str, tuple[RecordKind, Callable[..., tuple[pl.DataFrame, ImportMapping, Callable[[Any], None]]]]] = {
    "contacts": (contact_kind(), _contacts_file),
    "orders": (ORDERS, _orders_file),
    "activities": (ACTIVITIES, _activities_file),
    "accounts": (ACCOUNTS, _accounts_file),
    "products": (PRODUCTS, _products_file),
    "deals": (DEALS, _deals_file),
    "tickets": (TICKETS, _tickets_file),
    "consents": (CONSENTS, _consents_file),
}


def _ours(engine: Engine, kind: RecordKind, text: pl.DataFrame, mapping: ImportMapping) -> float:
    began = time.perf_counter()
    with UnitOfWork(make_session_factory(engine)) as uow:
        report = import_records(uow, IMPORTER, kind, text, mapping=mapping, source="bench.csv", now=NOW)
        uow.commit()
    elapsed = time.perf_counter() - began
    assert not report.rejected and report.inserted > 0, report.rejected[:3]
    return text.height / elapsed


def _raw(engine: Engine, insert: Callable[[Any], None], rows: int) -> float:
    connection = engine.raw_connection()
    try:
        sqlite = engine.dialect.name == "sqlite"
        cursor = connection.cursor()
        began = time.perf_counter()
        insert(_QmarkCursor(cursor) if sqlite else cursor)
        connection.commit()
        return rows / (time.perf_counter() - began)
    finally:
        connection.close()


class _QmarkCursor:
    """sqlite3 speaks `?`, psycopg `%s`: the same statements for both drivers."""

    def __init__(self, cursor: Any) -> None:
        self.cursor = cursor

    def executemany(self, statement: str, rows: list[tuple[Any, ...]]) -> None:
        self.cursor.executemany(
            statement.replace("%s", "?"), [tuple(_sqlite_value(value) for value in row) for row in rows]
        )


def _sqlite_value(value: Any) -> Any:
    # Stored as SQLAlchemy stores a DateTime on SQLite, so both sides write the same bytes.
    return value.isoformat(sep=" ", timespec="microseconds") if isinstance(value, datetime) else value


def _warm_up(database: str, postgres_url: str, folder: str) -> None:
    """One small import of each kind first, so neither side pays for first-use costs (query
    compilation, imports) inside its timing."""
    with scratch_database(database, postgres_url, folder) as engine:
        _customers_and_catalogue(engine)
        for kind, make in FILES.values():
            text, mapping, _raw_insert = make(WARM_UP_ROWS, np.random.default_rng(3))
            _ours(engine, kind, text, mapping)


def run(rows: dict[str, int], postgres_url: str, folder: str) -> list[Figure]:
    figures: list[Figure] = []
    for database in ("sqlite", "postgresql"):
        _warm_up(database, postgres_url, folder)
        for name, (kind, make) in FILES.items():
            count = rows[name]
            text, mapping, raw_insert = make(count, np.random.default_rng(11))
            with scratch_database(database, postgres_url, folder) as engine:
                _customers_and_catalogue(engine)
                ours = _ours(engine, kind, text, mapping)
            with scratch_database(database, postgres_url, folder) as engine:
                _customers_and_catalogue(engine)
                floor = _raw(engine, raw_insert, count)
            figures.append(
                Figure(
                    name=f"import_{name}_{database}_vs_raw_driver_insert",
                    ours=ours,
                    baseline=floor,
                    unit="rows/s",
                    target=0.5,
                    note=f"{count:,} file rows; ours parses, validates, resolves external ids and audits; the "
                    "floor is the driver's executemany of the rows already typed",
                )
            )
    return figures
