"""Deny by default, generated from the policy table: every role x own / same-team / other record."""

from __future__ import annotations

import itertools
from datetime import datetime

import pytest
from sqlalchemy import func, select

from crm_core.auth.policy import ENTITY_OF_TABLE, POLICY, Action, Role, Scope, scope_of
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Base, Prediction
from crm_core.errors import ForbiddenError
from crm_core.services.identity import authenticate
from crm_core.services.predictions import NewPrediction, record_predictions
from crm_core.unit_of_work import UnitOfWork
from tests.crm_core.conftest import World

NOW = datetime(2026, 11, 1)
PASSWORD = "correct horse battery staple"
OPERATOR = Principal.system(Role.ADMIN, "tests")
TARGETS = ("own", "team", "other")


def test_every_table_and_action_has_a_policy() -> None:
    assert set(ENTITY_OF_TABLE) == set(Base.metadata.tables), "a table without a policy entity"
    for entity in ENTITY_OF_TABLE.values():
        assert set(POLICY[entity]) == set(Action), f"{entity} lacks an action"


def test_unknown_roles_get_nothing() -> None:
    assert scope_of("intern", "contact", Action.READ) is Scope.NONE
    assert scope_of("admin", "no_such_entity", Action.READ) is Scope.NONE


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
