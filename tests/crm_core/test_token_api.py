"""Integration tokens over HTTP: no escalation, bounded expiry, and a list of one's own."""

from __future__ import annotations

from datetime import timedelta

from crm_core.auth.policy import Role
from crm_core.clock import utc_now
from tests.crm_core.conftest import World


def _expiry(days: float) -> str:
    return (utc_now() + timedelta(days=days)).isoformat() + "Z"


def test_a_narrow_token_cannot_mint_a_star_token(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    minted = world.client.post(
        "/tokens", json={"name": "minter", "scopes": ["api_token:create"], "expires_at": _expiry(7)}, headers=rep
    )
    assert minted.status_code == 201, minted.text
    narrow = {"Authorization": f"Bearer {minted.json()['access_token']}"}
    escalated = world.client.post(
        "/tokens", json={"name": "root", "scopes": ["*"], "expires_at": _expiry(7)}, headers=narrow
    )
    assert escalated.status_code == 403, escalated.text
    assert "scopes its creator lacks: *" in escalated.json()["detail"]
    sideways = world.client.post(
        "/tokens", json={"name": "reader", "scopes": ["contact:read"], "expires_at": _expiry(7)}, headers=narrow
    )
    assert sideways.status_code == 403


def test_expiry_is_required_bounded_and_in_the_future(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    body = {"name": "sync", "scopes": ["contact:read"]}
    assert world.client.post("/tokens", json=body, headers=rep).status_code == 422
    past = world.client.post("/tokens", json={**body, "expires_at": _expiry(-1)}, headers=rep)
    assert past.status_code == 422 and "past" in past.text
    far = world.client.post("/tokens", json={**body, "expires_at": _expiry(366)}, headers=rep)
    assert far.status_code == 422 and "365 days" in far.text


def test_people_list_their_own_tokens_without_secrets(world: World) -> None:
    rep, marketer = world.headers(Role.SALES_REP), world.headers(Role.MARKETER)
    created = world.client.post(
        "/tokens", json={"name": "dialer", "scopes": ["contact:read"], "expires_at": _expiry(30)}, headers=rep
    )
    listed = world.client.get("/tokens", headers=rep)
    assert listed.status_code == 200
    rows = listed.json()
    assert {(row["kind"], row["name"]) for row in rows} >= {("session", "login"), ("integration", "dialer")}
    assert created.json()["access_token"] not in listed.text and world.tokens[Role.SALES_REP] not in listed.text
    assert all(row["expires_at"] for row in rows), "every token, sessions included, has an expiry"
    theirs = {row["id"] for row in world.client.get("/tokens", headers=marketer).json()}
    assert created.json()["token_id"] not in theirs
    world.client.delete(f"/tokens/{created.json()['token_id']}", headers=rep)
    revoked = [row for row in world.client.get("/tokens", headers=rep).json() if row["name"] == "dialer"]
    assert revoked[0]["revoked_at"] is not None
