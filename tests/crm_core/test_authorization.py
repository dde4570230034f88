"""Deny by default, generated from the policy table: every role x own / same-team / other record."""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime

import pytest
from fastapi.routing import APIRoute
from fastapi.testclient import TestClient
from sqlalchemy import Engine, func, select

from crm_core.api import create_api
from crm_core.auth.policy import ENTITY_OF_TABLE, POLICY, Action, Role, Scope, scope_of
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Base, Contact, Prediction
from crm_core.errors import ForbiddenError
from crm_core.services.identity import authenticate, create_user, login
from crm_core.services.predictions import NewPrediction, record_predictions
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork

NOW = datetime(2026, 11, 1)
PASSWORD = "correct horse battery staple"
OPERATOR = Principal.system(Role.ADMIN, "tests")
TARGETS = ("own", "team", "other")


def test_every_table_and_action_has_a_policy() -> None:
    assert set(ENTITY_OF_TABLE) == set(Base.metadata.tables), "a table without a policy entity"
    for entity in ENTITY_OF_TABLE.values():
        assert set(POLICY[entity]) == set(Action), f"{entity} lacks an action"


def test_every_route_declares_a_known_policy() -> None:
    for route in create_api().routes:
        if not isinstance(route, APIRoute) or route.path in {"/docs", "/openapi.json", "/redoc"}:
            continue
        declared = (route.openapi_extra or {}).get("x-policy")
        assert declared, f"{route.path} declares no policy"
        if declared != "public":
            entity, _, action = declared.partition(":")
            assert Action(action) in POLICY[entity], f"{route.path}: {declared} is not in the policy table"


def test_unknown_roles_get_nothing() -> None:
    assert scope_of("intern", "contact", Action.READ) is Scope.NONE
    assert scope_of("admin", "no_such_entity", Action.READ) is Scope.NONE


@dataclass(frozen=True)
class World:
    client: TestClient
    engine: Engine
    tokens: dict[Role, str]
    contacts: dict[tuple[Role, str], int]  # (acting role, target kind) -> contact id


@pytest.fixture
def world(engine: Engine) -> World:
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
    return World(client, engine, tokens, contacts)


def expected(role: Role, entity: str, action: Action, kind: str) -> str:
    scope = scope_of(role, entity, action)
    if scope is Scope.NONE:
        return "forbidden"
    reach = {Scope.ALL: TARGETS, Scope.TEAM: ("own", "team"), Scope.OWN: ("own",)}[scope]
    return "allowed" if kind in reach else "hidden"


def test_reading_contacts_follows_the_policy(world: World) -> None:
    for role, kind in itertools.product(Role, TARGETS):
        contact_id = world.contacts[(role, kind)]
        response = world.client.get(
            f"/contacts/{contact_id}", headers={"Authorization": f"Bearer {world.tokens[role]}"}
        )
        outcome = expected(role, "contact", Action.READ, kind)
        status = {"allowed": 200, "hidden": 404, "forbidden": 403}[outcome]
        assert response.status_code == status, (role, kind, response.text)
        if outcome == "hidden":
            assert response.json()["detail"] == f"contact {contact_id} not found", "looks exactly like a missing record"


def test_writing_scores_follows_the_policy_and_denials_change_nothing(world: World) -> None:
    session_factory = make_session_factory(world.engine)
    for role, kind in itertools.product(Role, TARGETS):
        contact_id = world.contacts[(role, kind)]
        row = NewPrediction(contact_id, "churn", "1", "run", 0.5, "medium", [], NOW)
        with UnitOfWork(session_factory) as uow:
            before = uow.session.scalar(select(func.count()).select_from(Prediction))
            principal = authenticate(uow, world.tokens[role], now=utc_now())
            outcome = expected(role, "prediction", Action.CREATE, kind)
            if outcome == "forbidden":
                with pytest.raises(ForbiddenError):
                    record_predictions(uow, principal, [row], scored_at=NOW)
            else:
                result = record_predictions(uow, principal, [row], scored_at=NOW)
                assert result.inserted == (1 if outcome == "allowed" else 0), (role, kind)
                assert len(result.rejected) == (0 if outcome == "allowed" else 1)
            uow.commit()
            after = uow.session.scalar(select(func.count()).select_from(Prediction))
            assert after - before == (1 if outcome == "allowed" else 0)


def test_anonymous_and_bogus_tokens_are_refused(world: World) -> None:
    contact_id = world.contacts[(Role.ADMIN, "own")]
    assert world.client.get(f"/contacts/{contact_id}").status_code == 401
    bogus = world.client.get(f"/contacts/{contact_id}", headers={"Authorization": "Bearer crm_not-a-token"})
    assert bogus.status_code == 401
    assert bogus.headers["WWW-Authenticate"] == "Bearer"
