from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, insert, select, text
from sqlalchemy.exc import DBAPIError

from crm_core.api import create_api
from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.db import make_session_factory
from crm_core.entities import Activity, Prediction
from crm_core.errors import ForbiddenError
from crm_core.services.predictions import NewPrediction, record_predictions
from crm_core.services.profiles import get_contact_profile
from crm_core.services.users import create_user
from crm_core.unit_of_work import UnitOfWork
from tests.support.predictions import MODEL_SERVICE, T0, prediction, write

PASSWORD = "correct horse battery staple"
OPERATOR = Principal.system(Role.ADMIN, "tests")


def count_predictions(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Prediction)).scalar_one())


def test_write_back_is_idempotent(engine: Engine, contacts: list[int]) -> None:
    rows = [prediction(contact_id) for contact_id in contacts]
    assert write(engine, rows) == (3, 0, [])
    assert write(engine, rows, scored_at=T0 + timedelta(hours=1)) == (0, 3, [])
    assert count_predictions(engine) == 3
    newer_features = [prediction(contacts[0], at=T0 + timedelta(days=30))]
    assert write(engine, newer_features) == (1, 0, [])


def test_bad_rows_are_named_and_good_rows_kept(engine: Engine, contacts: list[int]) -> None:
    rows = [
        prediction(contacts[0]),
        prediction(contacts[1], score=float("nan")),
        prediction(999_999),
        prediction(contacts[2], score=1.5),
    ]
    inserted, _, problems = write(engine, rows)
    assert inserted == 1
    assert problems == [
        "prediction row 1: field 'score' must be a finite number",
        "prediction row 3: field 'score' 1.5 is outside [0, 1]",
        "prediction row 2: field 'contact_id' 999999 is not a known contact in reach",
    ]
    assert count_predictions(engine) == 1


def test_a_reach_checked_by_the_caller_is_used_and_the_policy_still_asked(engine: Engine, contacts: list[int]) -> None:
    """Online scoring looks the contacts up before reading features and hands the result on;
    a contact left out of it is refused, and a role that may never write scores still is."""
    rows = [prediction(contacts[0]), prediction(contacts[1])]
    with UnitOfWork(make_session_factory(engine)) as uow:
        result = record_predictions(uow, MODEL_SERVICE, rows, scored_at=T0, reachable={contacts[0]})
        uow.commit()
    assert result.inserted == 1
    assert [str(problem) for problem in result.rejected] == [
        f"prediction row 1: field 'contact_id' {contacts[1]} is not a known contact in reach"
    ]
    marketer = Principal.system(Role.MARKETER, "tests")
    with UnitOfWork(make_session_factory(engine)) as uow, pytest.raises(ForbiddenError):
        record_predictions(uow, marketer, rows, scored_at=T0, reachable=set(contacts))
    assert count_predictions(engine) == 1


def test_profile_shows_the_latest_score_per_model(engine: Engine, contacts: list[int]) -> None:
    first = contacts[0]
    write(engine, [prediction(first, version="1", score=0.2)], scored_at=T0)
    write(engine, [prediction(first, version="2", score=0.9)], scored_at=T0 + timedelta(days=1))
    lead = prediction(first, version="7", score=0.4)
    write(engine, [NewPrediction(**{**lead.__dict__, "model_name": "lead"})], scored_at=T0)
    with UnitOfWork(make_session_factory(engine)) as uow:
        profile = get_contact_profile(uow, Principal.system(Role.ADMIN, "tests"), first)
    assert [(s.model, s.version, s.score) for s in profile.scores] == [("churn", "2", 0.9), ("lead", "7", 0.4)]


def test_the_profile_says_what_changed_since_the_last_score(engine: Engine, contacts: list[int]) -> None:
    first = contacts[0]
    before = [
        {
            "feature": "days_since_last_order",
            "contribution": 0.1,
            "value": 20.0,
            "description": "days since the last order",
        },
        {
            "feature": "open_tickets_count",
            "contribution": 0.4,
            "value": 1.0,
            "description": "support tickets still open",
        },
    ]
    now = [
        {
            "feature": "days_since_last_order",
            "contribution": 0.9,
            "value": 95.0,
            "description": "days since the last order",
        },
        {"feature": "tenure_days", "contribution": -0.2, "value": 400.0, "description": "days as a contact"},
    ]
    old = NewPrediction(**{**prediction(first, score=0.3).__dict__, "band": "medium", "top_factors": before})
    new = NewPrediction(
        **{**prediction(first, version="2", score=0.8, at=T0 + timedelta(days=30)).__dict__, "top_factors": now}
    )
    write(engine, [old], scored_at=T0)
    write(engine, [new], scored_at=T0 + timedelta(days=30))
    with UnitOfWork(make_session_factory(engine)) as uow:
        score = get_contact_profile(uow, Principal.system(Role.ADMIN, "tests"), first).scores[0]
    assert score.change is not None
    assert (score.change.previous_score, score.change.previous_band, score.change.previous_version) == (
        0.3,
        "medium",
        "1",
    )
    moved = [(f.feature, f.value_before, f.value_now) for f in score.change.factors]
    # Largest move first: order recency pushed +0.8, the resolved tickets' 0.4 went away, tenure came in at -0.2.
    assert moved == [
        ("days_since_last_order", 20.0, 95.0),
        ("open_tickets_count", 1.0, None),
        ("tenure_days", None, 400.0),
    ]


def test_a_reason_is_shown_only_to_who_may_see_its_source(engine: Engine, contacts: list[int]) -> None:
    factors = [
        {"feature": "email_bounced", "contribution": 0.5, "source": "contact.email"},
        {"feature": "open_tickets_count", "contribution": 0.3, "source": "ticket"},
    ]
    write(engine, [NewPrediction(**{**prediction(contacts[0]).__dict__, "top_factors": factors})])
    seen = {}
    for role in (Role.ADMIN, Role.MARKETER, Role.MODEL_SERVICE):
        with UnitOfWork(make_session_factory(engine)) as uow:
            profile = get_contact_profile(uow, Principal.system(role, "tests"), contacts[0])
        seen[role] = [f["feature"] for f in profile.scores[0].top_factors]
    assert seen[Role.ADMIN] == ["email_bounced", "open_tickets_count"]
    assert seen[Role.MARKETER] == ["open_tickets_count"], "marketers see emails masked: no reason built on one"
    assert seen[Role.MODEL_SERVICE] == ["open_tickets_count"]


def test_api_returns_profile_404_and_422(engine: Engine, contacts: list[int]) -> None:
    write(engine, [prediction(contacts[0])])
    session_factory = make_session_factory(engine)
    with UnitOfWork(session_factory) as uow:
        create_user(uow, OPERATOR, email="admin@x.test", full_name="A", role="admin", password=PASSWORD, now=T0)
        uow.commit()
    client = TestClient(create_api(session_factory))
    assert client.get(f"/contacts/{contacts[0]}").status_code == 401, "anonymous callers are refused"
    token = client.post("/auth/login", json={"email": "admin@x.test", "password": PASSWORD}).json()["access_token"]
    client.headers["Authorization"] = f"Bearer {token}"
    body = client.get(f"/contacts/{contacts[0]}").json()
    assert body["contact"]["id"] == contacts[0]
    assert body["scores"][0] | {"scored_at": None} == {
        "model": "churn",
        "version": "1",
        "score": 0.7,
        "percent": 70,
        "band": "high",
        "scored_at": None,
        "feature_timestamp": "2026-10-01T00:00:00Z",  # RFC 3339, UTC
        "top_factors": [{"feature": "tenure_days", "contribution": 0.3}],
        "change": None,  # the first score has nothing to compare with
    }
    missing = client.get("/contacts/424242")
    assert missing.status_code == 404
    assert missing.json() == {"detail": "contact 424242 not found", "id": 424242}
    assert client.get("/contacts/not-a-number").status_code == 422


@pytest.mark.parametrize(
    ("table", "assignment"),
    [("predictions", "score = 0.01"), ("activities", "occurred_at = occurred_at")],
)
def test_append_only_rows_cannot_be_updated(engine: Engine, contacts: list[int], table: str, assignment: str) -> None:
    write(engine, [prediction(contacts[0])])
    with engine.begin() as connection:
        connection.execute(
            insert(Activity), [{"contact_id": contacts[0], "type": "call", "channel": "phone", "occurred_at": T0}]
        )
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
        connection.execute(text(f"UPDATE {table} SET {assignment}"))
    with engine.begin() as connection:  # erasure must still be able to delete
        connection.execute(text(f"DELETE FROM {table}"))


@pytest.mark.parametrize("microsecond", [0, 250_000])
def test_the_bulk_paths_store_rows_exactly_as_the_orm_does(
    engine: Engine, contacts: list[int], microsecond: int
) -> None:
    """COPY (PostgreSQL) and the driver's executemany (SQLite) bypass the ORM: what they store must
    read back identically and collide with an ORM-written row of the same identity."""
    at = datetime(2026, 10, 1, 12, 30, 15, microsecond)
    orm_row = Prediction(
        contact_id=contacts[0],
        model_name="churn",
        model_version="7",
        mlflow_run_id="run-7",
        score=0.25,
        band="low",
        top_factors=[{"feature": "tenure_days", "contribution": -0.1, "description": "ünïcode"}],
        feature_timestamp=at,
        scored_at=at,
    )
    with UnitOfWork(make_session_factory(engine)) as uow:
        uow.session.add(orm_row)
        uow.commit()
    twin = prediction(contacts[0], version="7", at=at)
    fresh = NewPrediction(**{**twin.__dict__, "contact_id": contacts[1], "top_factors": orm_row.top_factors})
    assert write(engine, [twin, fresh], scored_at=at) == (1, 1, [])
    with engine.connect() as connection:
        stored = connection.execute(
            select(Prediction.feature_timestamp, Prediction.scored_at, Prediction.top_factors)
            .where(Prediction.model_version == "7")
            .order_by(Prediction.contact_id)
        ).all()
    assert [tuple(row) for row in stored] == [(at, at, orm_row.top_factors)] * 2
