"""Segment preview: "churn band high and at least 100 spent in the last year" on a CRM whose
contacts each carry three scoring runs, a few orders and their consent history, answered by the
product's `preview_segment` (size, consented, expected precision; one SQL aggregate) beside
polars answering the same question over the same rows already in memory (the tables read
beforehand, not timed): an in-memory columnar engine as the peer.

The builder fires a preview on every keystroke, so the target is absolute: under a second.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import TypeVar

import numpy as np
import polars as pl
from sqlalchemy import Engine

from benchmarks.results import Figure
from benchmarks.synthetic import bare_contacts
from benchmarks.write_back import scratch_database
from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.bulk_load import load_tables
from crm_core.db import make_session_factory
from crm_core.entities import Channel
from crm_core.schemas.segments import SegmentRule
from crm_core.services.predictions import NewPrediction, record_predictions
from crm_core.services.segment_preview import SegmentPreview, preview_segment
from crm_core.unit_of_work import UnitOfWork

NOW = datetime(2026, 12, 1)
RUNS = 3
ORDERS_PER_CONTACT = 4
MIN_SPEND = 100
RULE = SegmentRule.model_validate({"scores": [{"model": "churn", "bands": ["high"]}], "min_order_value_365d": "100"})
REPEATS = 5
T = TypeVar("T")
CHUNK = 10_000


def _band(score: float) -> str:
    return "high" if score >= 0.6 else "medium" if score >= 0.3 else "low"


def _tables(contacts: int, seed: int) -> dict[str, pl.DataFrame]:
    rng = np.random.default_rng(seed)
    orders = contacts * ORDERS_PER_CONTACT
    consent_rows = contacts + contacts // 3
    return {
        "contacts": bare_contacts(contacts),
        "orders": pl.DataFrame(
            {
                "id": np.arange(1, orders + 1),
                "contact_id": rng.integers(1, contacts + 1, orders),
                "ordered_at": [NOW - timedelta(days=float(days)) for days in rng.uniform(1, 730, orders)],
                "status": np.where(rng.random(orders) < 0.1, "cancelled", "completed"),
                "total": np.round(rng.uniform(5, 150, orders), 2),
            }
        ).with_columns(pl.col("total").cast(pl.Decimal(14, 2))),
        "consents": pl.DataFrame(
            {
                "id": np.arange(1, consent_rows + 1),
                "contact_id": np.concatenate(
                    [np.arange(1, contacts + 1), rng.integers(1, contacts + 1, contacts // 3)]
                ),
                "channel": ["email"] * consent_rows,
                "status": ["granted"] * contacts + ["withdrawn"] * (contacts // 3),
                "source": ["benchmark"] * consent_rows,
                "recorded_at": [NOW - timedelta(days=400)] * contacts + [NOW - timedelta(days=30)] * (contacts // 3),
            }
        ),
    }


def _score_runs(engine: Engine, contacts: int, seed: int) -> pl.DataFrame:
    """Three runs written through the product's write path (which keeps current scores)."""
    rng = np.random.default_rng(seed + 1)
    principal = Principal.system(Role.MODEL_SERVICE, "benchmark")
    written = []
    for run in range(RUNS):
        scores = rng.random(contacts)
        at = NOW - timedelta(days=30 * (RUNS - run))
        for start in range(0, contacts, CHUNK):
            rows = [
                NewPrediction(
                    contact_id=contact + 1,
                    model_name="churn",
                    model_version=str(run + 1),
                    mlflow_run_id="benchmark",
                    score=float(scores[contact]),
                    band=_band(float(scores[contact])),
                    top_factors=[],
                    feature_timestamp=at,
                )
                for contact in range(start, min(start + CHUNK, contacts))
            ]
            with UnitOfWork(make_session_factory(engine)) as uow:
                record_predictions(uow, principal, rows, scored_at=at + timedelta(hours=1))
                uow.commit()
        written.append(pl.DataFrame({"contact_id": np.arange(1, contacts + 1), "score": scores, "run": run}))
    return pl.concat(written)


def _polars_preview(tables: dict[str, pl.DataFrame], scores: pl.DataFrame) -> tuple[int, int, float]:
    current = scores.sort("run").group_by("contact_id").last()
    high = current.filter(pl.col("score") >= 0.6)
    spend = (
        tables["orders"]
        .filter(pl.col("ordered_at") > NOW - timedelta(days=365), pl.col("status") != "cancelled")
        .group_by("contact_id")
        .agg(pl.col("total").sum())
        .filter(pl.col("total") >= MIN_SPEND)
    )
    granted = (
        tables["consents"]
        .sort("recorded_at", "id")
        .group_by("contact_id")
        .last()
        .filter(pl.col("status") == "granted")
        .select("contact_id")
    )
    members = high.join(spend.select("contact_id"), on="contact_id")
    contactable = members.join(granted, on="contact_id").height
    return members.height, contactable, float(members.select(pl.col("score").mean()).item() or 0.0)


def _timed(action: Callable[[], T]) -> tuple[float, T]:
    seconds = []
    for _ in range(REPEATS):
        began = time.perf_counter()
        result = action()
        seconds.append(time.perf_counter() - began)
    return statistics.median(seconds), result


def run(contacts: int, folder: str, postgres_url: str, seed: int = 11) -> list[Figure]:
    tables = _tables(contacts, seed)
    with scratch_database("sqlite", postgres_url, folder) as engine:
        load_tables(engine, tables)
        scores = _score_runs(engine, contacts, seed)
        admin = Principal.system(Role.ADMIN, "benchmark")

        def ours() -> SegmentPreview:
            with UnitOfWork(make_session_factory(engine)) as uow:
                return preview_segment(uow, admin, RULE, Channel.EMAIL, NOW)

        seconds, answer = _timed(ours)
        peer_seconds, peer = _timed(lambda: _polars_preview(tables, scores))
    if (answer.size, answer.contactable) != peer[:2]:
        raise AssertionError(f"the preview {answer} and polars {peer} disagree")
    return [
        Figure(
            name=f"segment preview, churn high + spend, SQLite ({contacts:,} contacts x {RUNS} runs)",
            ours=seconds,
            baseline=peer_seconds,
            unit="s",
            target=1.0,
            better="lower",
            target_is_ratio=False,
            note="peer: polars over the same rows already in memory",
            extra={"members": float(answer.size), "contactable": float(answer.contactable)},
        )
    ]
