"""Signing in to the web pages in tests: one cookie-holding client per role, over the real app."""

from __future__ import annotations

import re
from datetime import datetime

from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.db import make_session_factory
from crm_core.services.predictions import NewPrediction, record_predictions
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork
from crm_core.web import WEB_PREFIX, create_web_app
from tests.crm_core.conftest import PASSWORD

CSRF = re.compile(r'name="csrf-token" content="([0-9a-f]{64})"')


def web_host(engine: Engine) -> FastAPI:
    host = FastAPI()
    settings = CoreSettings(login_max_failures=1000)
    host.mount(WEB_PREFIX, create_web_app(make_session_factory(engine), settings))
    return host


def signed_in(host: FastAPI, role: Role | str, email: str | None = None) -> TestClient:
    client = TestClient(host, follow_redirects=False)
    address = email or f"{Role(role).value}@x.test"
    response = client.post(f"{WEB_PREFIX}/login", data={"email": address, "password": PASSWORD})
    assert response.status_code == 303, response.text
    return client


def csrf_of(client: TestClient, page: str = f"{WEB_PREFIX}/segments") -> str:
    found = CSRF.search(client.get(page).text)
    assert found, "every signed-in page carries the CSRF token"
    return found.group(1)


def add_score(
    engine: Engine,
    contact_id: int,
    model: str,
    score: float,
    band: str,
    at: datetime,
    factors: list[dict[str, object]] | None = None,
    version: str = "3",
) -> None:
    with UnitOfWork(make_session_factory(engine)) as uow:
        # Through the product's write path, which also keeps the contact's current score.
        row = NewPrediction(
            contact_id=contact_id,
            model_name=model,
            model_version=version,
            mlflow_run_id="run",
            score=score,
            band=band,
            top_factors=factors or [],
            feature_timestamp=at,
        )
        record_predictions(uow, Principal.system(Role.MODEL_SERVICE, "tests"), [row], scored_at=at)
        uow.commit()
