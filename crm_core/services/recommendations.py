"""Write-back and reading of product recommendations: validated, bulk, idempotent, in reach."""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field, fields
from datetime import datetime
from typing import cast

from sqlalchemy import Table, select

from crm_core.auth.principal import Principal
from crm_core.entities import Product, ProductRecommendation
from crm_core.errors import InvalidPredictionError
from crm_core.schemas.recommendations import REASON_WORDS, RecommendationPublic
from crm_core.services import audit
from crm_core.services.access import rows_in_reach
from crm_core.services.idempotent import bulk_insert_ignoring_duplicates, plain_values
from crm_core.unit_of_work import UnitOfWork

IDENTITY_COLUMNS = ("contact_id", "model_name", "model_version", "data_timestamp", "product_id")
REASONS = frozenset({"bought_before", "similar_customers", "similar_products", "popular"})


@dataclass(frozen=True)
class NewRecommendation:
    contact_id: int
    product_id: int
    rank: int
    score: float
    reason: str
    model_name: str
    model_version: str
    mlflow_run_id: str
    data_timestamp: datetime


@dataclass
class RecommendationWriteResult:
    inserted: int = 0
    already_present: int = 0
    rejected: list[InvalidPredictionError] = field(default_factory=list)


_FIELDS = tuple(spec.name for spec in fields(NewRecommendation))


def _problems(rows: Sequence[NewRecommendation], known_products: set[int]) -> list[InvalidPredictionError]:
    problems = []
    for index, row in enumerate(rows):
        if not math.isfinite(row.score):
            problems.append(InvalidPredictionError(index, "score", "must be a finite number"))
        if row.rank < 1:
            problems.append(InvalidPredictionError(index, "rank", f"{row.rank} is not a rank (1 is the first)"))
        if row.reason not in REASONS:
            problems.append(InvalidPredictionError(index, "reason", f"'{row.reason}' is not one of {sorted(REASONS)}"))
        if row.product_id not in known_products:
            problems.append(InvalidPredictionError(index, "product_id", f"{row.product_id} is not a known product"))
        if not row.model_name or not row.model_version:
            problems.append(InvalidPredictionError(index, "model_version", "model name and version are required"))
    return problems


def record_recommendations(
    uow: UnitOfWork, principal: Principal, rows: Sequence[NewRecommendation], *, written_at: datetime
) -> RecommendationWriteResult:
    """Store `rows` in one statement; bad rows are reported by index and field, good rows kept."""
    products = {row.product_id for row in rows}
    known_products = set(uow.session.scalars(select(Product.id).where(Product.id.in_(products))))
    result = RecommendationWriteResult(rejected=_problems(rows, known_products))
    bad = {problem.row for problem in result.rejected}
    kept, out_of_reach = rows_in_reach(uow, principal, "recommendation", [row.contact_id for row in rows], bad)
    result.rejected.extend(out_of_reach)
    payload = [
        plain_values(rows[index], _FIELDS, score=float(rows[index].score), written_at=written_at) for index in kept
    ]
    if payload:
        table = cast(Table, ProductRecommendation.__table__)
        result.inserted = bulk_insert_ignoring_duplicates(uow, table, IDENTITY_COLUMNS, payload)
    result.already_present = len(payload) - result.inserted
    audit.record(
        uow,
        principal,
        action="recommendation.write_back",
        entity="recommendation",
        details={
            "models": sorted({f"{r.model_name}@{r.model_version}" for r in rows}),
            "inserted": result.inserted,
            "already_present": result.already_present,
            "rejected": len(result.rejected),
        },
        at=written_at,
    )
    return result


def latest_recommendations(uow: UnitOfWork, contact_id: int) -> list[RecommendationPublic]:
    """The newest list written for the contact (by any recommender), best first."""
    newest = (
        select(
            ProductRecommendation.model_name, ProductRecommendation.model_version, ProductRecommendation.data_timestamp
        )
        .where(ProductRecommendation.contact_id == contact_id)
        .order_by(
            ProductRecommendation.written_at.desc(),
            ProductRecommendation.data_timestamp.desc(),
            ProductRecommendation.id.desc(),
        )
        .limit(1)
    ).subquery()
    rows = uow.session.execute(
        select(ProductRecommendation, Product.name, Product.sku)
        .join(Product, Product.id == ProductRecommendation.product_id)
        .join(
            newest,
            (newest.c.model_name == ProductRecommendation.model_name)
            & (newest.c.model_version == ProductRecommendation.model_version)
            & (newest.c.data_timestamp == ProductRecommendation.data_timestamp),
        )
        .where(ProductRecommendation.contact_id == contact_id)
        .order_by(ProductRecommendation.rank)
    ).all()
    return [
        RecommendationPublic(
            product_id=row.product_id,
            product_name=name,
            sku=sku,
            rank=row.rank,
            score=row.score,
            reason=row.reason,
            reason_text=REASON_WORDS.get(row.reason, row.reason.replace("_", " ")),
            model=row.model_name,
            version=row.model_version,
            written_at=row.written_at,
        )
        for row, name, sku in rows
    ]
