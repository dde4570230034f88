from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import Engine, select, text
from sqlalchemy.exc import DBAPIError

from crm_core.api import create_api
from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import AuditChainHead, AuditEvent
from crm_core.protection import keyring
from crm_core.protection.keyring import FieldKeyring
from crm_core.services import audit
from crm_core.services.audit_seal import keyed_event_hash, unkeyed_event_hash
from crm_core.services.identity import login
from crm_core.services.users import create_user
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork

NOW = datetime(2026, 11, 1, 12)
PASSWORD = "correct horse battery staple"
OPERATOR = Principal.system(Role.ADMIN, "tests")


def populate(engine: Engine) -> None:
    """Real audited actions: a user created, a failed and a successful login."""
    with UnitOfWork(make_session_factory(engine)) as uow:
        create_user(uow, OPERATOR, email="a@x.test", full_name="A", role="admin", password=PASSWORD, now=NOW)
        uow.commit()
        with pytest.raises(Exception, match="wrong email or password"):
            login(uow, CoreSettings(), email="a@x.test", password="not the password", now=NOW)
        login(uow, CoreSettings(), email="a@x.test", password=PASSWORD, now=NOW)


def check(engine: Engine) -> audit.ChainCheck:
    with UnitOfWork(make_session_factory(engine)) as uow:
        return audit.verify_chain(uow)


def test_actions_are_audited_in_an_intact_chain(engine: Engine) -> None:
    populate(engine)
    with UnitOfWork(make_session_factory(engine)) as uow:
        events = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        assert [e.action for e in events] == ["user.create", "login.failed", "login"]
        assert events[0].actor_label == "tests" and events[2].actor_label == "a@x.test"
        assert events[1].prev_hash == events[0].hash
    assert check(engine) == audit.ChainCheck(events=3, first_broken_id=None)


def test_the_database_refuses_to_edit_or_delete_audit_events(engine: Engine) -> None:
    populate(engine)
    for statement in ("UPDATE audit_events SET action = 'x'", "DELETE FROM audit_events"):
        with pytest.raises(DBAPIError, match="append-only"), engine.begin() as connection:
            connection.execute(text(statement))


def drop_guards(engine: Engine) -> None:
    """What an attacker with direct database access could do first."""
    with engine.begin() as connection:
        if engine.dialect.name == "postgresql":
            connection.execute(text("DROP TRIGGER audit_events_append_only ON audit_events"))
        else:
            connection.execute(text("DROP TRIGGER audit_events_append_only_update"))
            connection.execute(text("DROP TRIGGER audit_events_append_only_delete"))


@pytest.mark.parametrize(
    ("tamper", "first_broken"),
    [
        ("UPDATE audit_events SET actor_label = 'someone else' WHERE id = 2", 2),
        ("DELETE FROM audit_events WHERE id = 2", 3),
        ("DELETE FROM audit_events WHERE id = 3", 3),
    ],
)
def test_verification_finds_where_tampering_begins(engine: Engine, tamper: str, first_broken: int) -> None:
    populate(engine)
    drop_guards(engine)
    with engine.begin() as connection:
        connection.execute(text(tamper))
    assert check(engine).first_broken_id == first_broken


def test_api_writes_carry_the_request_id_into_the_audit_trail(engine: Engine) -> None:
    populate(engine)
    client = TestClient(create_api(make_session_factory(engine)))
    token = client.post("/auth/login", json={"email": "a@x.test", "password": PASSWORD}).json()["access_token"]
    created = client.post(
        "/tokens",
        json={"name": "crm sync", "scopes": ["contact:read"], "expires_at": str(utc_now() + timedelta(days=30))},
        headers={"Authorization": f"Bearer {token}", "X-Request-ID": "req-42"},
    )
    assert created.status_code == 201, created.text
    with UnitOfWork(make_session_factory(engine)) as uow:
        event = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id.desc())).first()
        assert event is not None
        token_id = str(created.json()["token_id"])
        assert (event.action, event.entity_id, event.request_id) == ("api_token.create", token_id, "req-42")
        assert created.json()["access_token"] not in str(event.details), "secrets never reach the audit trail"
    assert check(engine).intact


def _rewrite_from(engine: Engine, event_id: int, seal: Callable[[str, dict[str, Any]], str]) -> None:
    """The attack: edit event `event_id`, then recompute every later hash and the head with
    `seal`, as anyone with write access to the database file can."""
    drop_guards(engine)
    with UnitOfWork(make_session_factory(engine)) as uow:
        events = uow.session.scalars(select(AuditEvent).order_by(AuditEvent.id)).all()
        previous = audit.GENESIS_HASH if event_id == 1 else events[event_id - 2].hash
        for event in events[event_id - 1 :]:
            if event.id == event_id:
                event.actor_label = "someone else"
            fields = {name: getattr(event, name) for name in audit._HASHED} | {"at": event.at.isoformat()}
            event.prev_hash, event.hash = previous, seal(previous, fields)
            previous = event.hash
        uow.session.get_one(AuditChainHead, 1).last_hash = previous
        uow.commit()


def test_an_edit_with_every_later_hash_recomputed_is_found(engine: Engine) -> None:
    """The finding: an edited event and recomputed later hashes passed audit-verify."""
    populate(engine)
    _rewrite_from(engine, 2, unkeyed_event_hash)
    broken = check(engine)
    assert broken.first_broken_id == 2 and broken.events == 1


def test_moving_the_keyed_cut_over_past_an_edit_is_found(engine: Engine) -> None:
    populate(engine)
    _rewrite_from(engine, 2, unkeyed_event_hash)
    with engine.begin() as connection:
        connection.execute(text("UPDATE audit_chain_head SET keyed_from_id = 1000"))
    broken = check(engine)
    assert broken.first_broken_id == 1 and "cut-over" in (broken.reason or "")


def test_a_rewrite_with_the_key_is_found_against_an_exported_head(engine: Engine) -> None:
    populate(engine)
    with UnitOfWork(make_session_factory(engine)) as uow:
        exported = audit.chain_head(uow)
        assert audit.verify_chain(uow, [exported]).intact
    _rewrite_from(engine, 2, keyed_event_hash)
    assert check(engine).intact, "with the key, a rewrite passes the chain alone"
    with UnitOfWork(make_session_factory(engine)) as uow:
        pinned = audit.verify_chain(uow, [exported])
    assert pinned.first_broken_id == exported.last_event_id
    assert "exported at an earlier verify" in (pinned.reason or "")


def test_another_homes_keys_do_not_verify_this_chain(engine: Engine, field_keys: FieldKeyring) -> None:
    populate(engine)
    keyring.install(FieldKeyring.generate())
    try:
        assert not check(engine).intact
    finally:
        keyring.install(field_keys)
    assert check(engine).intact
