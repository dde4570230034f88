"""Recommendation write-back: every contact's top 10 stored through the product's
`record_recommendations` (validation, the reach check, the idempotent insert and the audit
event, one transaction per 10,000 contacts, as `crm-intel recommend` writes them) beside the
driver's fastest path for the same rows with no checks (COPY on PostgreSQL, executemany on
SQLite): the practical limit.

At a million contacts that is ten million rows, the largest write the product makes.
"""

from __future__ import annotations

import time
from datetime import datetime
from decimal import Decimal

import polars as pl
from sqlalchemy import Engine

from benchmarks.results import Figure
from benchmarks.synthetic import bare_contacts
from benchmarks.write_back import raw_insert, scratch_database
from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.bulk_load import load_tables
from crm_core.db import make_session_factory
from crm_core.services.recommendations import NewRecommendation, record_recommendations
from crm_core.unit_of_work import UnitOfWork

PER_CONTACT = 10
PRODUCTS = 200
CONTACTS_PER_CALL = 10_000
DATA_TIME = datetime(2026, 11, 1)
WRITTEN_AT = datetime(2026, 11, 2)
COLUMNS = (
    "contact_id",
    "product_id",
    "rank",
    "score",
    "reason",
    "model_name",
    "model_version",
    "mlflow_run_id",
    "data_timestamp",
    "written_at",
)


def _lists(first: int, last: int, version: str) -> list[NewRecommendation]:
    return [
        NewRecommendation(
            contact_id=contact,
            product_id=1 + (contact * 7 + rank) % PRODUCTS,
            rank=rank + 1,
            score=1.0 / (rank + 1),
            reason="similar_customers",
            model_name="recommend",
            model_version=version,
            mlflow_run_id="benchmark",
            data_timestamp=DATA_TIME,
        )
        for contact in range(first, last + 1)
        for rank in range(PER_CONTACT)
    ]


def products_table() -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": range(1, PRODUCTS + 1),
            "sku": [f"SKU-{i}" for i in range(1, PRODUCTS + 1)],
            "name": ["Product"] * PRODUCTS,
            "category": ["bench"] * PRODUCTS,
            "unit_price": [Decimal("1.00")] * PRODUCTS,
        }
    )


def ours(engine: Engine, contacts: int, version: str) -> float:
    factory = make_session_factory(engine)
    service = Principal.system(Role.MODEL_SERVICE, "benchmark")
    elapsed, inserted = 0.0, 0
    for first in range(1, contacts + 1, CONTACTS_PER_CALL):
        rows = _lists(first, min(first + CONTACTS_PER_CALL - 1, contacts), version)
        began = time.perf_counter()
        with UnitOfWork(factory) as uow:
            written = record_recommendations(uow, service, rows, written_at=WRITTEN_AT)
            uow.commit()
        elapsed += time.perf_counter() - began
        inserted += written.inserted
    assert inserted == contacts * PER_CONTACT, f"{inserted} rows written of {contacts * PER_CONTACT}"
    return inserted / elapsed


def raw_bulk(engine: Engine, contacts: int, version: str) -> float:
    rows = _lists(1, contacts, version)
    began = time.perf_counter()
    tuples = [
        (r.contact_id, r.product_id, r.rank, r.score, r.reason, r.model_name, r.model_version, r.mlflow_run_id,
         r.data_timestamp, WRITTEN_AT)
        for r in rows
    ]  # fmt: skip
    raw_insert(engine, "recommendations", COLUMNS, tuples)
    return len(rows) / (time.perf_counter() - began)


def run(kind: str, contacts: int, postgres_url: str, folder: str) -> list[Figure]:
    with scratch_database(kind, postgres_url, folder) as engine:
        load_tables(engine, {"contacts": bare_contacts(contacts), "products": products_table()})
        ours_rate = ours(engine, contacts, "ours")
        raw_rate = raw_bulk(engine, contacts, "raw")
    return [
        Figure(
            f"recommendation_write_back_{kind}_vs_raw_bulk",
            ours_rate,
            raw_rate,
            "rows/s",
            0.5,
            note=f"{contacts:,} contacts x {PER_CONTACT}",
            extra={"seconds_for_1m_contacts": 1_000_000 * PER_CONTACT / ours_rate},
        )
    ]
