"""Recommendation write-back and reading: idempotent, bad rows named, reach enforced, erased."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from sqlalchemy import Engine, func, select

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.db import make_session_factory
from crm_core.entities import Contact, ErasureReason, Product, ProductRecommendation
from crm_core.services.customer360 import get_customer_360
from crm_core.services.erasure import erase_person
from crm_core.services.recommendations import NewRecommendation, latest_recommendations, record_recommendations
from crm_core.unit_of_work import UnitOfWork

T0 = datetime(2026, 10, 1)
SERVICE = Principal.system(Role.MODEL_SERVICE, "tests")
ADMIN = Principal.system(Role.ADMIN, "tests")


@pytest.fixture
def world(engine: Engine) -> tuple[list[int], list[int]]:
    with UnitOfWork(make_session_factory(engine)) as uow:
        contacts = [
            Contact(first_name=f"C{i}", last_name="X", lifecycle_stage="customer", created_at=T0) for i in range(2)
        ]
        products = [Product(sku=f"SKU-{i}", name=f"Product {i}", category="c", unit_price=1) for i in range(3)]
        uow.session.add_all([*contacts, *products])
        uow.commit()
        return [c.id for c in contacts], [p.id for p in products]


def rec(
    contact: int, product: int, rank: int, *, version: str = "1", reason: str = "similar_customers", at: datetime = T0
) -> NewRecommendation:
    return NewRecommendation(
        contact_id=contact,
        product_id=product,
        rank=rank,
        score=1.0 / max(rank, 1),
        reason=reason,
        model_name="recommend",
        model_version=version,
        mlflow_run_id="run-1",
        data_timestamp=at,
    )


def write(engine: Engine, rows: list[NewRecommendation]) -> tuple[int, int, list[tuple[int, str]]]:
    with UnitOfWork(make_session_factory(engine)) as uow:
        result = record_recommendations(uow, SERVICE, rows, written_at=datetime(2026, 11, 1))
        uow.commit()
    return result.inserted, result.already_present, [(p.row, p.field) for p in result.rejected]


def test_write_back_is_idempotent_and_names_each_bad_row(engine: Engine, world: tuple[list[int], list[int]]) -> None:
    (c1, c2), (p1, p2, p3) = world
    good = [rec(c1, p1, 1, reason="bought_before"), rec(c1, p2, 2), rec(c2, p3, 1, reason="popular")]
    assert write(engine, good) == (3, 0, [])
    assert write(engine, good) == (0, 3, []), "writing the same list again adds nothing"
    bad = [rec(c2, 999_999, 2), rec(c2, p1, 0), rec(c2, p2, 3, reason="because"), rec(987_654, p1, 1), rec(c2, p1, 4)]
    inserted, _, rejected = write(engine, bad)
    assert inserted == 1, "the one good row of a batch with bad rows is kept"
    assert rejected == [(0, "product_id"), (1, "rank"), (2, "reason"), (3, "contact_id")]


def test_the_record_shows_the_newest_list_best_first_and_erasure_removes_it(
    engine: Engine, world: tuple[list[int], list[int]]
) -> None:
    (c1, _), (p1, p2, p3) = world
    write(engine, [rec(c1, p1, 1), rec(c1, p2, 2)])
    write(engine, [rec(c1, p3, 1, version="2", reason="bought_before"), rec(c1, p1, 2, version="2")])
    with UnitOfWork(make_session_factory(engine)) as uow:
        shown = latest_recommendations(uow, c1)
        record = get_customer_360(uow, ADMIN, c1)
    assert [(r.product_id, r.rank, r.version) for r in shown] == [(p3, 1, "2"), (p1, 2, "2")]
    assert shown[0].reason_text == "bought it before" and shown[0].product_name == "Product 2"
    # the bulk paths (COPY, executemany) store values exactly as the ORM reads them back
    assert (shown[1].score, shown[1].written_at) == (0.5, datetime(2026, 11, 1, tzinfo=UTC))
    assert record.recommendations == shown
    with UnitOfWork(make_session_factory(engine)) as uow:
        erase_person(uow, ADMIN, c1, ErasureReason.SUBJECT_REQUEST, now=datetime(2026, 11, 2))
        uow.commit()
    with UnitOfWork(make_session_factory(engine)) as uow:
        left = uow.session.scalar(
            select(func.count()).select_from(ProductRecommendation).where(ProductRecommendation.contact_id == c1)
        )
    assert left == 0
