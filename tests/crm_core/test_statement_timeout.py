"""Runaway queries on the server's engine are stopped by the database at the time limit, the
connection stays usable, and the request answers 503 instead of keeping a core busy."""

from __future__ import annotations

import time
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import insert, text
from sqlalchemy.exc import OperationalError

from crm_core.api import create_api
from crm_core.auth.policy import Role
from crm_core.db import is_statement_timeout, make_engine, make_session_factory
from crm_core.entities import Contact
from crm_core.settings import CoreSettings
from tests.crm_core.conftest import World

RUNAWAY = {
    "sqlite": "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n) SELECT count(*) FROM n",
    "postgresql": "SELECT pg_sleep(30)",
}


def test_a_runaway_statement_is_stopped_at_the_limit_and_the_connection_lives(database_url: str) -> None:
    engine = make_engine(database_url, statement_timeout_seconds=0.5)
    try:
        with engine.connect() as connection:
            started = time.monotonic()
            with pytest.raises(OperationalError) as stopped:
                connection.execute(text(RUNAWAY[engine.dialect.name]))
            assert time.monotonic() - started < 5
            assert is_statement_timeout(stopped.value)
            connection.rollback()
            assert connection.execute(text("SELECT 1")).scalar_one() == 1
    finally:
        engine.dispose()


def test_batch_engines_have_no_limit(database_url: str) -> None:
    engine = make_engine(database_url)
    query = {
        "sqlite": RUNAWAY["sqlite"].replace("FROM n)", "FROM n WHERE i < 3000000)"),
        "postgresql": "SELECT pg_sleep(1.2)",
    }
    try:
        with engine.connect() as connection:
            connection.execute(text(query[engine.dialect.name]))
    finally:
        engine.dispose()


def test_a_request_whose_query_runs_too_long_answers_503(world: World) -> None:
    with world.engine.begin() as connection:
        connection.execute(
            insert(Contact),
            [
                {
                    "first_name": "Bulk",
                    "last_name": f"N{index:06}",
                    "lifecycle_stage": "lead",
                    "created_at": datetime(2026, 1, 1),
                }
                for index in range(20_000)
            ],
        )
    limited = make_engine(world.engine.url.render_as_string(hide_password=False), statement_timeout_seconds=1e-9)
    try:
        client = TestClient(create_api(make_session_factory(limited), CoreSettings(login_max_failures=1000)))
        headers = world.headers(Role.ADMIN)
        response = client.get("/contacts", params={"sort": "-last_name", "limit": 200}, headers=headers)
        assert response.status_code == 503, response.text[:300]
        assert "time limit" in response.json()["detail"]
    finally:
        limited.dispose()
