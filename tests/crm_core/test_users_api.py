"""User administration: admin only for writes, role changes audited, deactivation ends access."""

from __future__ import annotations

from sqlalchemy import select

from crm_core.auth.policy import Role
from crm_core.entities import AuditEvent, User
from tests.crm_core.conftest import PASSWORD, World


def test_admin_creates_and_changes_users_and_role_changes_are_audited(world: World) -> None:
    admin = world.headers(Role.ADMIN)
    created = world.client.post(
        "/users",
        json={
            "email": "new.rep@example.com",
            "full_name": "New Rep",
            "role": "sales_rep",
            "team": "B",
            "password": PASSWORD,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    user = created.json()
    assert "password" not in str(user) and "hash" not in str(user)
    promoted = world.client.patch(f"/users/{user['id']}", json={"role": "sales_manager"}, headers=admin)
    assert promoted.json()["role"] == "sales_manager"
    with world.engine.connect() as connection:
        event = connection.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (event.action, event.details) == ("user.role_change", {"from": "sales_rep", "to": "sales_manager"})
    assert world.client.patch(f"/users/{user['id']}", json={"role": "overlord"}, headers=admin).status_code == 422
    own = world.client.patch(f"/users/{world.users[Role.ADMIN]}", json={"role": "marketer"}, headers=admin)
    assert own.status_code == 422, "no one demotes (or locks out) themselves by accident"


def test_only_admins_write_users_and_managers_see_their_team(world: World) -> None:
    for role in (Role.SALES_MANAGER, Role.SALES_REP, Role.MARKETER, Role.DATA_SCIENTIST, Role.MODEL_SERVICE):
        attempt = world.client.post(
            "/users",
            json={"email": f"x.{role.value}@example.com", "full_name": "X", "role": "admin"},
            headers=world.headers(role),
        )
        assert attempt.status_code == 403, role
        escalate = world.client.patch(
            f"/users/{world.users[role]}", json={"role": "admin"}, headers=world.headers(role)
        )
        assert escalate.status_code in (403, 404), role
    with world.engine.connect() as connection:
        assert (
            connection.execute(select(User.role).where(User.id == world.users[Role.SALES_REP])).scalar_one()
            == "sales_rep"
        )
    team = world.client.get("/users", headers=world.headers(Role.SALES_MANAGER)).json()
    assert {u["email"] for u in team} == {"sales_manager@x.test", "sales_rep@x.test", "mate@x.test"}
    assert world.client.get("/users", headers=world.headers(Role.SALES_REP)).status_code == 403


def test_deactivating_a_user_revokes_their_tokens_at_once(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    assert world.client.get("/auth/me", headers=rep).status_code == 200
    off = world.client.patch(
        f"/users/{world.users[Role.SALES_REP]}", json={"is_active": False}, headers=world.headers(Role.ADMIN)
    )
    assert off.status_code == 200
    assert world.client.get("/auth/me", headers=rep).status_code == 401
    login = world.client.post("/auth/login", json={"email": "sales_rep@x.test", "password": PASSWORD})
    assert login.status_code == 401
