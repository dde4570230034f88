"""Batch write-back of scores: our resumable bulk path beside an ORM row-by-row loop (the naive
way) and a raw bulk insert or COPY (the practical limit), on SQLite and on PostgreSQL.

Ours does everything the product does per chunk: validation, the reach check, INSERT ... ON
CONFLICT DO NOTHING RETURNING, the audit event and the run's progress in one transaction.
The row-by-row loop checks each row for an existing score, then adds it; it is timed on a
sample and reported as a rate, since at full size it would take many minutes.
"""

from __future__ import annotations

import contextlib
import json
import time
import uuid
from collections.abc import Iterator, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, create_engine, select, text
from sqlalchemy.engine import make_url
from sqlalchemy.orm import Session

from benchmarks.results import Figure
from benchmarks.synthetic import bare_contacts
from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.bulk_load import load_tables
from crm_core.db import make_engine, make_session_factory
from crm_core.entities import Prediction
from crm_core.migrate import upgrade
from crm_core.services.predictions import NewPrediction
from crm_core.services.write_back_runs import RunKey, write_back_resumably

FEATURE_TIME = datetime(2026, 11, 1)
SCORED_AT = datetime(2026, 11, 2)
CHUNK = 20_000
FACTORS = [
    {
        "feature": "days_since_last_order",
        "value": 41.0,
        "contribution": 0.31,
        "description": "days since the last order",
    },
    {"feature": "orders_count_90d", "value": 0.0, "contribution": 0.12, "description": "orders in the last 90 days"},
    {"feature": "tickets_opened_count_30d", "value": 2.0, "contribution": -0.05, "description": "support tickets"},
]


def _prediction(contact_id: int, version: str) -> NewPrediction:
    return NewPrediction(
        contact_id=contact_id,
        model_name="churn",
        model_version=version,
        mlflow_run_id="benchmark",
        score=(contact_id % 1000) / 1000,
        band="medium",
        top_factors=FACTORS,
        feature_timestamp=FEATURE_TIME,
    )


@contextlib.contextmanager
def scratch_database(kind: str, postgres_url: str, folder: str) -> Iterator[Engine]:
    """A migrated, empty CRM: a SQLite file in `folder`, or a new PostgreSQL database."""
    if kind == "sqlite":
        engine = make_engine(f"sqlite:///{folder}/writeback-{uuid.uuid4().hex[:8]}.db")
        upgrade(engine)
        try:
            yield engine
        finally:
            engine.dispose()
        return
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    name = f"crm_bench_{uuid.uuid4().hex[:10]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    engine = make_engine(make_url(postgres_url).set(database=name).render_as_string(hide_password=False))
    try:
        upgrade(engine)
        yield engine
    finally:
        engine.dispose()
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def ours(engine: Engine, rows: int, version: str) -> float:
    def chunks(after: int) -> Iterator[list[NewPrediction]]:
        for start in range(after + 1, rows + 1, CHUNK):
            yield [_prediction(i, version) for i in range(start, min(start + CHUNK, rows + 1))]

    began = time.perf_counter()
    progress = write_back_resumably(
        make_session_factory(engine),
        Principal.system(Role.MODEL_SERVICE, "benchmark"),
        RunKey("churn", version, FEATURE_TIME),
        total_rows=rows,
        chunks=chunks,
        scored_at=SCORED_AT,
    )
    elapsed = time.perf_counter() - began
    assert progress.written.inserted == rows, progress.written
    return rows / elapsed


def row_by_row(engine: Engine, rows: int, version: str) -> float:
    """The naive loop: per row, look for an existing score, add it if absent; one commit."""
    began = time.perf_counter()
    with Session(engine) as session:
        for contact_id in range(1, rows + 1):
            row = _prediction(contact_id, version)
            exists = session.scalar(
                select(Prediction.id).where(
                    Prediction.contact_id == contact_id,
                    Prediction.model_name == row.model_name,
                    Prediction.model_version == row.model_version,
                    Prediction.feature_timestamp == row.feature_timestamp,
                )
            )
            if exists is None:
                session.add(
                    Prediction(
                        contact_id=row.contact_id,
                        model_name=row.model_name,
                        model_version=row.model_version,
                        mlflow_run_id=row.mlflow_run_id,
                        score=row.score,
                        band=row.band,
                        top_factors=row.top_factors,
                        feature_timestamp=row.feature_timestamp,
                        scored_at=SCORED_AT,
                    )
                )
                session.flush()
        session.commit()
    return rows / (time.perf_counter() - began)


def raw_bulk(engine: Engine, rows: int, version: str) -> float:
    """The practical limit: the driver's fastest path with no checks (COPY on PostgreSQL,
    executemany of plain INSERTs on SQLite)."""
    predictions = [_prediction(i, version) for i in range(1, rows + 1)]
    columns = (
        "contact_id", "model_name", "model_version", "mlflow_run_id", "score", "band", "top_factors",
        "feature_timestamp", "scored_at",
    )  # fmt: skip
    began = time.perf_counter()
    # Given the same rows as ours, turned into driver tuples (JSON text for the factors).
    tuples = [
        (p.contact_id, p.model_name, p.model_version, p.mlflow_run_id, p.score, p.band, json.dumps(p.top_factors),
         p.feature_timestamp, SCORED_AT)
        for p in predictions
    ]  # fmt: skip
    raw_insert(engine, "predictions", columns, tuples)
    return rows / (time.perf_counter() - began)


def raw_insert(engine: Engine, table: str, columns: Sequence[str], tuples: list[tuple[Any, ...]]) -> None:
    """The practical limit every write-back is measured beside: the driver's fastest path with no
    checks and no conflict handling (COPY on PostgreSQL, executemany of plain INSERTs on SQLite)."""
    names = ", ".join(columns)
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        if engine.dialect.name == "postgresql":
            with cursor.copy(f"COPY {table} ({names}) FROM STDIN") as copy:
                for row in tuples:
                    copy.write_row(row)
        else:
            cursor.executemany(f"INSERT INTO {table} ({names}) VALUES ({', '.join('?' * len(columns))})", tuples)
        raw.commit()
    finally:
        raw.close()


def run(kind: str, rows: int, naive_rows: int, postgres_url: str, folder: str) -> list[Figure]:
    with scratch_database(kind, postgres_url, folder) as engine:
        load_tables(engine, {"contacts": bare_contacts(rows)})
        ours_rate = ours(engine, rows, "ours")
        naive_rate = row_by_row(engine, min(naive_rows, rows), "naive")
        raw_rate = raw_bulk(engine, rows, "raw")
    seconds_for_million = 1_000_000 / ours_rate
    return [
        Figure(
            f"write_back_{kind}_vs_row_by_row",
            ours_rate,
            naive_rate,
            "rows/s",
            50,
            note=f"{rows:,} scores; row-by-row timed on {min(naive_rows, rows):,}",
        ),
        Figure(f"write_back_{kind}_vs_raw_bulk", ours_rate, raw_rate, "rows/s", 0.5, note=f"{rows:,} scores"),
        Figure(
            f"write_back_{kind}_1m_scores",
            seconds_for_million,
            None,
            "s",
            8,
            better="lower",
            target_is_ratio=False,
            note=f"seconds per 1M scores at the rate measured on {rows:,}",
        ),
    ]
