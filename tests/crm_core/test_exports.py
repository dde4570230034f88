from __future__ import annotations

import polars as pl
import pytest
from sqlalchemy import Engine

from crm_core import exports
from crm_core.bulk_load import load_tables
from crm_core.demo import DemoConfig, generate
from crm_core.exports import ACTIVITIES_SCHEMA, export_crm

CONFIG = DemoConfig(contacts=300, seed=9)


# 97 rows a slice leaves a short last slice in every table and reads PostgreSQL through a server
# cursor; the default reads these small tables in one.
@pytest.mark.parametrize("chunk_rows", [exports.EXPORT_CHUNK_ROWS, 97])
def test_exports_return_the_loaded_rows_with_pinned_types(
    engine: Engine, chunk_rows: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Same frames whatever the dialect: features computed on PostgreSQL equal those on SQLite."""
    monkeypatch.setattr(exports, "EXPORT_CHUNK_ROWS", chunk_rows)
    empty = export_crm(engine)
    assert empty.activities.is_empty() and empty.activities.schema == ACTIVITIES_SCHEMA
    tables = generate(CONFIG)
    load_tables(engine, tables)
    export = export_crm(engine)
    activities = tables["activities"].select("contact_id", "type", "channel", "occurred_at")
    assert export.activities.equals(activities.sort("contact_id", "occurred_at"))
    orders = tables["orders"].select("contact_id", "ordered_at", "total").sort("contact_id", "ordered_at")
    assert export.orders.equals(orders)
    assert export.contacts.equals(tables["contacts"].select(pl.col("id").alias("contact_id"), "created_at"))
    tickets = tables["tickets"].select("contact_id", "opened_at", "resolved_at", "satisfaction")
    assert export.tickets.equals(tickets.sort("contact_id", "opened_at"))
    deals = tables["deals"].sort("contact_id", "opened_at", "id")
    assert export.deals.equals(deals.select("contact_id", "amount", "status", "opened_at", "closed_at"))
