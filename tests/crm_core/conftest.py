"""Fixtures for crm_core tests: a CRM with one user per role, teams, and owned contacts."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine

from crm_core.api import create_api
from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Contact
from crm_core.services.identity import login
from crm_core.services.users import create_user
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork
from tests.support.contacts import add_contacts

NOW = datetime(2026, 11, 1)
PASSWORD = "correct horse battery staple"
OPERATOR = Principal.system(Role.ADMIN, "tests")


@dataclass(frozen=True)
class World:
    client: TestClient
    engine: Engine
    tokens: dict[Role, str]
    contacts: dict[tuple[Role, str], int]  # (acting role, target kind) -> contact id
    users: dict[Role, int]
    stranger_id: int

    def headers(self, role: Role) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[role]}"}


@pytest.fixture
def world(engine: Engine) -> World:
    return build_world(engine)


def build_world(engine: Engine) -> World:
    """One user per role (sales roles in team A), a rep in team B, and for each actor a contact
    they own, one owned by a teammate, and one owned by the other team."""
    session_factory = make_session_factory(engine)
    with UnitOfWork(session_factory) as uow:
        users = {
            role: create_user(
                uow,
                OPERATOR,
                email=f"{role.value}@x.test",
                full_name=role.value,
                role=role.value,
                password=PASSWORD,
                now=NOW,
                team_name="A" if role in (Role.SALES_MANAGER, Role.SALES_REP) else None,
            )
            for role in Role
        }
        teammate = create_user(
            uow, OPERATOR, email="mate@x.test", full_name="m", role="sales_rep", password=None, now=NOW, team_name="A"
        )
        stranger = create_user(
            uow, OPERATOR, email="far@x.test", full_name="f", role="sales_rep", password=None, now=NOW, team_name="B"
        )
        contacts: dict[tuple[Role, str], int] = {}
        for role, user in users.items():
            for kind, owner in (("own", user), ("team", teammate), ("other", stranger)):
                contact = Contact(
                    first_name=kind, last_name=role.value, lifecycle_stage="lead", owner_id=owner.id, created_at=NOW
                )
                uow.session.add(contact)
                uow.session.flush()
                contacts[(role, kind)] = contact.id
        uow.commit()
    settings = CoreSettings(login_max_failures=1000)
    with UnitOfWork(session_factory) as uow:
        tokens = {
            role: login(uow, settings, email=f"{role.value}@x.test", password=PASSWORD, now=utc_now()).token
            for role in Role
        }
    client = TestClient(create_api(session_factory, settings))
    return World(
        client, engine, tokens, contacts, users={role: user.id for role, user in users.items()}, stranger_id=stranger.id
    )


@pytest.fixture
def contacts(engine: Engine) -> list[int]:
    return add_contacts(engine, 3)
