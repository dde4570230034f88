"""Rule segments over scores, spend and stage: evaluated in SQL, refreshed after scoring,
created by marketers over the API, members listed within each viewer's reach."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.db import make_session_factory
from crm_core.entities import Order, Segment, SegmentMember
from crm_core.errors import ForbiddenError
from crm_core.services.predictions import NewPrediction, record_predictions
from crm_core.services.segments import list_segments, put_cluster_segments, refresh_rule_segments
from crm_core.unit_of_work import UnitOfWork
from tests.crm_core.conftest import World

NOW = datetime(2026, 11, 1)
HIGH_RISK_HIGH_VALUE = {
    "name": "High churn risk, high value",
    "scores": [{"model": "churn", "bands": ["high"]}],
    "min_order_value_365d": "500",
}


def score(world: World, contact_id: int, band: str, at: datetime, value: float = 0.5) -> None:
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        # Through the product's write path, which also keeps the contact's current score.
        row = NewPrediction(
            contact_id=contact_id,
            model_name="churn",
            model_version="1",
            mlflow_run_id="r",
            score=value,
            band=band,
            top_factors=[],
            feature_timestamp=at,
        )
        record_predictions(uow, Principal.system(Role.MODEL_SERVICE, "tests"), [row], scored_at=at)
        uow.commit()


def spend(world: World, contact_id: int, total: str, at: datetime) -> None:
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        uow.session.add(Order(contact_id=contact_id, ordered_at=at, status="completed", total=Decimal(total)))
        uow.commit()


def members(world: World, segment_id: int) -> set[int]:
    with world.engine.connect() as connection:
        rows = connection.execute(select(SegmentMember.contact_id).where(SegmentMember.segment_id == segment_id))
        return set(rows.scalars())


def test_a_marketer_builds_high_risk_high_value_and_it_follows_new_scores(world: World) -> None:
    a, b, c = (world.contacts[(Role.ADMIN, kind)] for kind in ("own", "team", "other"))
    d = world.contacts[(Role.MARKETER, "own")]
    score(world, a, "high", NOW)  # high risk, spent 600 this year: in
    spend(world, a, "600", NOW - timedelta(days=30))
    score(world, b, "low", NOW - timedelta(days=1))  # newest score is high, spent 900: in
    score(world, b, "high", NOW)
    spend(world, b, "900", NOW - timedelta(days=10))
    score(world, c, "high", NOW)  # high risk, but the big order is older than a year: out
    spend(world, c, "5000", NOW - timedelta(days=400))
    score(world, d, "high", NOW - timedelta(days=1))  # was high, newest score is medium: out
    score(world, d, "medium", NOW)
    spend(world, d, "700", NOW - timedelta(days=5))

    created = world.client.post("/segments", json=HIGH_RISK_HIGH_VALUE, headers=world.headers(Role.MARKETER))
    assert created.status_code == 201, created.text
    segment = created.json()
    assert segment["kind"] == "rule" and segment["member_count"] == 2
    assert members(world, segment["id"]) == {a, b}

    score(world, a, "low", NOW + timedelta(days=1))  # a new scoring run: a is no longer at risk
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        sizes = refresh_rule_segments(uow, NOW + timedelta(days=1))
        uow.commit()
    assert sizes == {segment["key"]: 1} and members(world, segment["id"]) == {b}

    again = world.client.post("/segments", json=HIGH_RISK_HIGH_VALUE, headers=world.headers(Role.ADMIN))
    assert again.status_code == 409
    refused = world.client.post(
        "/segments", json=HIGH_RISK_HIGH_VALUE | {"name": "x"}, headers=world.headers(Role.SALES_REP)
    )
    assert refused.status_code == 403
    empty = world.client.post("/segments", json={"name": "nothing"}, headers=world.headers(Role.MARKETER))
    assert empty.status_code == 422, "a segment without a condition is refused"


def test_members_are_listed_within_the_viewers_reach(world: World) -> None:
    everyone = [world.contacts[(Role.SALES_REP, kind)] for kind in ("own", "team", "other")]
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        put_cluster_segments(uow, [("cluster-1", "big spenders", "d", {}, everyone)], NOW)
        uow.commit()
        segment_id = uow.session.scalar(select(Segment.id).where(Segment.key == "cluster-1"))
    listed = {}
    for role in (Role.SALES_REP, Role.SALES_MANAGER, Role.MARKETER):
        page = world.client.get(f"/segments/{segment_id}/members", headers=world.headers(role))
        assert page.status_code == 200, page.text
        listed[role] = {item["id"] for item in page.json()["items"]}
    assert listed[Role.SALES_REP] == {everyone[0]}
    assert listed[Role.SALES_MANAGER] == set(everyone[:2])
    assert listed[Role.MARKETER] == set(everyone)
    assert (
        world.client.get(f"/segments/{segment_id}/members", headers=world.headers(Role.DATA_SCIENTIST)).status_code
        == 403
    )

    with UnitOfWork(make_session_factory(world.engine)) as uow:
        put_cluster_segments(uow, [], NOW + timedelta(days=1))  # the cluster was not found this time
        uow.commit()
    assert members(world, segment_id) == set(), "a vanished cluster is emptied, its id still resolves"
    assert world.client.get("/segments", headers=world.headers(Role.MARKETER)).json()[0]["member_count"] == 0


def test_principal_without_segment_rights_is_refused_in_the_service(world: World) -> None:
    with UnitOfWork(make_session_factory(world.engine)) as uow, pytest.raises(ForbiddenError):
        list_segments(uow, Principal.system(Role.DATA_SCIENTIST, "tests"))
