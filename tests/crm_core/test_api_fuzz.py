"""Property-based requests over the whole OpenAPI schema, signed in as each role (schemathesis).

Every documented operation gets generated requests, valid and invalid, as every role, against
a CRM with records of every kind: no response may be a server error, and every response must
match the schema for its status code (body, status and content type). `CRM_FUZZ_EXAMPLES`
sets the examples per operation and role: a modest number in `make test`, 1,000 in
`make fuzz` (the figure the closing note quotes).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)
from sqlalchemy import Engine

from crm_core.api import create_api
from crm_core.auth.policy import Role
from crm_core.db import make_engine, make_session_factory
from crm_core.migrate import upgrade
from crm_core.settings import CoreSettings
from tests.crm_core.conftest import World, build_world

EXAMPLES = int(os.environ.get("CRM_FUZZ_EXAMPLES", "20"))
REPORT = Path(os.environ["CRM_FUZZ_REPORT"]) if os.environ.get("CRM_FUZZ_REPORT") else None
CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]

API = create_api()  # the schema is read at import; the database is attached per dialect below
SCHEMA = schemathesis.openapi.from_asgi("/openapi.json", API)
OPERATIONS = {f"{op.method.upper()} {op.path}": op for op in (result.ok() for result in SCHEMA.get_all_operations())}


@pytest.fixture(scope="module", params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def fuzz_world(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path_factory.mktemp('fuzz') / 'crm.db'}"
    else:
        url = _postgres_database(request)
    engine: Engine = make_engine(url)
    upgrade(engine)
    world = build_world(engine)
    API.state.session_factory = make_session_factory(engine)
    API.state.settings = CoreSettings(home=Path(str(tmp_path_factory.mktemp("home"))), login_max_failures=10**9)
    yield world
    engine.dispose()


def _postgres_database(request: pytest.FixtureRequest) -> str:
    import uuid

    from sqlalchemy import text
    from sqlalchemy.engine import make_url

    admin: Engine = request.getfixturevalue("postgres_admin")
    name = f"crm_fuzz_{uuid.uuid4().hex[:12]}"
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))

    def drop() -> None:
        with admin.connect() as connection:
            connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))

    request.addfinalizer(drop)
    return make_url(str(admin.url)).set(database=name).render_as_string(hide_password=False)


@pytest.mark.slow
@pytest.mark.parametrize("role", list(Role), ids=[role.value for role in Role])
@pytest.mark.parametrize("operation", sorted(OPERATIONS))
def test_generated_requests_get_no_server_error_and_match_the_schema(
    fuzz_world: World, operation: str, role: Role
) -> None:
    target = OPERATIONS[operation]
    headers = fuzz_world.headers(role)
    sent = 0
    strategy = st.one_of(
        target.as_strategy(generation_mode=GenerationMode.POSITIVE),
        target.as_strategy(generation_mode=GenerationMode.NEGATIVE),
    )

    @given(case=strategy)
    @settings(max_examples=EXAMPLES, deadline=None, database=None, suppress_health_check=list(HealthCheck))
    def send(case: schemathesis.Case) -> None:
        nonlocal sent
        merged = {**(case.headers or {}), **headers}
        response = case.call(headers=merged)
        sent += 1
        case.validate_response(response, checks=CHECKS, headers=merged)

    send()
    assert sent > 0, "requests were generated and sent"
    if REPORT is not None:  # `make fuzz` tallies requests per operation and role
        with REPORT.open("a") as report:
            report.write(json.dumps({"operation": operation, "role": role.value, "requests": sent}) + "\n")
