"""Contacts and accounts over the API: validation, ownership, paging, and denials that write nothing."""

from __future__ import annotations

from sqlalchemy import Engine, func, select

from crm_core.auth.policy import Role
from crm_core.entities import AuditEvent, Contact
from tests.crm_core.conftest import World


def contact_count(engine: Engine) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Contact)).scalar_one())


def snapshot(engine: Engine, contact_id: int) -> tuple[object, ...]:
    with engine.connect() as connection:
        return tuple(connection.execute(select(Contact).where(Contact.id == contact_id)).one())


def test_a_rep_creates_a_contact_they_own_and_the_write_is_audited(world: World) -> None:
    body = {"first_name": "Ada", "last_name": "Lovelace", "email": "ada@example.com", "phone": "+44 20 7946 0000"}
    created = world.client.post("/contacts", json=body, headers=world.headers(Role.SALES_REP))
    assert created.status_code == 201, created.text
    assert created.json()["owner_id"] == world.users[Role.SALES_REP]
    assert created.json()["lifecycle_stage"] == "lead"
    with world.engine.connect() as connection:
        event = connection.execute(select(AuditEvent).order_by(AuditEvent.id.desc()).limit(1)).one()
    assert (event.action, event.entity_id) == ("contact.create", str(created.json()["id"]))
    assert "email" in event.changed_fields
    assert "ada@example.com" not in str(event.details), "audit names fields, never their values"


def test_invalid_or_forbidden_creates_write_nothing(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    base = {"first_name": "A", "last_name": "B"}
    before = contact_count(world.engine)
    cases = [
        (base | {"email": "not-an-email"}, rep, 422),
        (base | {"surprise": 1}, rep, 422),
        (base | {"lifecycle_stage": "vip"}, rep, 422),
        (base | {"owner_id": world.stranger_id}, rep, 422),
        (base | {"account_id": 987654}, rep, 422),
        (base, world.headers(Role.MARKETER), 403),
        (base, {}, 401),
    ]
    for payload, headers, status in cases:
        response = world.client.post("/contacts", json=payload, headers=headers)
        assert response.status_code == status, (payload, response.text)
    assert contact_count(world.engine) == before
    assert world.client.post("/contacts", json=base | {"email": "dup@example.com"}, headers=rep).status_code == 201
    duplicate = world.client.post("/contacts", json=base | {"email": "DUP@example.com".lower()}, headers=rep)
    assert duplicate.status_code == 409
    assert duplicate.json()["field"] == "email"


def test_updates_reach_only_records_in_scope(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    own, other = world.contacts[(Role.SALES_REP, "own")], world.contacts[(Role.SALES_REP, "other")]
    before = snapshot(world.engine, other)
    denied = world.client.patch(f"/contacts/{other}", json={"last_name": "Hijacked"}, headers=rep)
    assert denied.status_code == 404
    assert snapshot(world.engine, other) == before, "a denied update changes nothing"
    assert world.client.patch(f"/contacts/{own}", json={"first_name": None}, headers=rep).status_code == 422
    moved = world.client.patch(f"/contacts/{own}", json={"owner_id": world.stranger_id}, headers=rep)
    assert moved.status_code == 422, "a rep cannot hand records to another team"
    updated = world.client.patch(f"/contacts/{own}", json={"lifecycle_stage": "customer"}, headers=rep)
    assert updated.status_code == 200
    assert updated.json()["lifecycle_stage"] == "customer"
    manager = world.headers(Role.SALES_MANAGER)
    team_contact = world.contacts[(Role.SALES_MANAGER, "team")]
    assert (
        world.client.patch(f"/contacts/{team_contact}", json={"last_name": "Renamed"}, headers=manager).status_code
        == 200
    )


def test_lists_show_only_reachable_records_page_by_page(world: World) -> None:
    rep_ids = {c["id"] for c in world.client.get("/contacts", headers=world.headers(Role.SALES_REP)).json()["items"]}
    assert rep_ids == {world.contacts[(Role.SALES_REP, "own")]}
    admin = world.headers(Role.ADMIN)
    everything: list[int] = []
    cursor: str | None = None
    pages = 0
    while True:
        params: dict[str, str | int] = {"limit": 4, "sort": "-created_at"}
        if cursor:
            params["cursor"] = cursor
        page = world.client.get("/contacts", params=params, headers=admin).json()
        everything.extend(item["id"] for item in page["items"])
        pages += 1
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert sorted(everything) == sorted(world.contacts.values()), "every row once, none skipped"
    assert pages == -(-len(world.contacts) // 4)
    assert world.client.get("/contacts", params={"limit": 500}, headers=admin).status_code == 422
    assert world.client.get("/contacts", params={"cursor": "garbage"}, headers=admin).status_code == 422
    assert world.client.get("/contacts", params={"sort": "email"}, headers=admin).status_code == 422
    named = world.client.get("/contacts", params={"q": "ow"}, headers=admin).json()["items"]
    assert {c["first_name"] for c in named} == {"own"}


def test_accounts_follow_the_same_rules(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    created = world.client.post("/accounts", json={"name": "Acme", "industry": "retail"}, headers=rep)
    assert created.status_code == 201
    account_id = created.json()["id"]
    assert world.client.get(f"/accounts/{account_id}", headers=rep).json()["name"] == "Acme"
    assert world.client.get(f"/accounts/{account_id}", headers=world.headers(Role.SALES_MANAGER)).status_code == 200
    other_rep = world.client.post(
        "/auth/login", json={"email": "mate@x.test", "password": "irrelevant password"}
    ).status_code
    assert other_rep == 401, "a user without a password cannot sign in"
    assert world.client.patch(f"/accounts/{account_id}", json={"name": ""}, headers=rep).status_code == 422
    contact = world.client.post(
        "/contacts", json={"first_name": "C", "last_name": "D", "account_id": account_id}, headers=rep
    )
    assert contact.status_code == 201
    listed = world.client.get("/contacts", params={"account_id": account_id}, headers=rep).json()["items"]
    assert [c["id"] for c in listed] == [contact.json()["id"]]
