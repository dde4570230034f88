"""Tickets, the product catalogue and orders over the API: reach through the contact, computed
totals, status rules, and refused writes that leave no trace."""

from __future__ import annotations

from decimal import Decimal

from sqlalchemy import Engine, func, select

from crm_core.auth.policy import Role
from crm_core.entities import Deal, Order, OrderLine, Ticket
from tests.crm_core.conftest import World


def count(engine: Engine, model: type[Ticket] | type[Order] | type[OrderLine] | type[Deal]) -> int:
    with engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(model)).scalar_one())


def new_product(world: World, sku: str, price: str) -> int:
    response = world.client.post(
        "/products",
        json={"sku": sku, "name": sku.title(), "category": "tools", "unit_price": price},
        headers=world.headers(Role.ADMIN),
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def test_tickets_follow_their_contacts_owner(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    own, other = world.contacts[(Role.SALES_REP, "own")], world.contacts[(Role.SALES_REP, "other")]
    body = {"channel": "email", "subject": "Invoice is wrong", "priority": "high"}
    created = world.client.post("/tickets", json=body | {"contact_id": own}, headers=rep)
    assert created.status_code == 201, created.text
    assert created.json()["status"] == "open"

    before = count(world.engine, Ticket)
    refused = world.client.post("/tickets", json=body | {"contact_id": other}, headers=rep)
    assert (refused.status_code, refused.json()["field"]) == (422, "contact_id")
    assert count(world.engine, Ticket) == before

    assert [t["id"] for t in world.client.get("/tickets", headers=rep).json()["items"]] == [created.json()["id"]]
    stranger_view = world.client.get(f"/tickets/{created.json()['id']}", headers=world.headers(Role.SALES_MANAGER))
    assert stranger_view.status_code == 200, "the rep's manager reaches the team's tickets"
    outside = world.client.post(
        "/tickets", json=body | {"contact_id": world.contacts[(Role.ADMIN, "other")]}, headers=world.headers(Role.ADMIN)
    )
    hidden = world.client.get(f"/tickets/{outside.json()['id']}", headers=rep)
    assert hidden.status_code == 404, "another team's ticket answers like a missing one"


def test_ticket_status_drives_resolution_and_rating(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    ticket = world.client.post(
        "/tickets",
        json={"contact_id": world.contacts[(Role.SALES_REP, "own")], "channel": "chat", "subject": "Login fails"},
        headers=rep,
    ).json()
    early_rating = world.client.patch(f"/tickets/{ticket['id']}", json={"satisfaction": 5}, headers=rep)
    assert (early_rating.status_code, early_rating.json()["field"]) == (422, "satisfaction")
    resolved = world.client.patch(
        f"/tickets/{ticket['id']}", json={"status": "resolved", "satisfaction": 4}, headers=rep
    )
    assert resolved.status_code == 200, resolved.text
    assert resolved.json()["resolved_at"] is not None and resolved.json()["satisfaction"] == 4
    reopened = world.client.patch(f"/tickets/{ticket['id']}", json={"status": "open"}, headers=rep).json()
    assert (reopened["resolved_at"], reopened["satisfaction"]) == (None, None)
    assert world.client.patch(f"/tickets/{ticket['id']}", json={"status": "bogus"}, headers=rep).status_code == 422


def test_only_admins_maintain_the_catalogue_everyone_reads_it(world: World) -> None:
    product_id = new_product(world, "drill-01", "49.90")
    for role in Role:
        listed = world.client.get("/products", params={"sku": "drill-01"}, headers=world.headers(role))
        assert listed.status_code == 200 and [p["id"] for p in listed.json()["items"]] == [product_id], role
        if role is not Role.ADMIN:
            change = world.client.patch(
                f"/products/{product_id}", json={"unit_price": "1"}, headers=world.headers(role)
            )
            assert change.status_code == 403, role
    duplicate = world.client.post(
        "/products",
        json={"sku": "drill-01", "name": "Other", "category": "tools", "unit_price": "1"},
        headers=world.headers(Role.ADMIN),
    )
    assert (duplicate.status_code, duplicate.json()["field"]) == (409, "sku")
    price = world.client.get(f"/products/{product_id}", headers=world.headers(Role.SALES_REP)).json()["unit_price"]
    assert Decimal(price) == Decimal("49.90")


def test_orders_take_catalogue_prices_and_compute_their_total(world: World) -> None:
    drill, bits = new_product(world, "drill-02", "49.90"), new_product(world, "bits-02", "3.25")
    rep = world.headers(Role.SALES_REP)
    own = world.contacts[(Role.SALES_REP, "own")]
    lines = [{"product_id": drill, "quantity": 1}, {"product_id": bits, "quantity": 4}]
    placed = world.client.post("/orders", json={"contact_id": own, "lines": lines}, headers=rep)
    assert placed.status_code == 201, placed.text
    assert Decimal(placed.json()["total"]) == Decimal("62.90")
    assert [line["quantity"] for line in placed.json()["lines"]] == [1, 4]
    read = world.client.get(f"/orders/{placed.json()['id']}", headers=rep).json()
    assert read == placed.json()

    orders_before, lines_before = count(world.engine, Order), count(world.engine, OrderLine)
    refusals = [
        ({"contact_id": own, "lines": [{"product_id": 999_999, "quantity": 1}]}, rep, 422),
        ({"contact_id": own, "lines": [{"product_id": drill, "quantity": 0}]}, rep, 422),
        ({"contact_id": own, "lines": [], "total": "1.00"}, rep, 422),
        ({"contact_id": world.contacts[(Role.SALES_REP, "other")], "lines": lines}, rep, 422),
        ({"contact_id": own, "lines": lines}, world.headers(Role.MARKETER), 403),
        ({"contact_id": own, "lines": lines, "ordered_at": "2999-01-01T00:00:00"}, rep, 422),
    ]
    for body, headers, status in refusals:
        response = world.client.post("/orders", json=body, headers=headers)
        assert response.status_code == status, (body, response.text)
    assert (count(world.engine, Order), count(world.engine, OrderLine)) == (orders_before, lines_before)

    cancelled = world.client.patch(f"/orders/{placed.json()['id']}", json={"status": "cancelled"}, headers=rep)
    assert cancelled.json()["status"] == "cancelled"
    assert (
        world.client.get("/orders", params={"status": "cancelled"}, headers=rep).json()["items"][0]["id"]
        == (placed.json()["id"])
    )


def test_records_link_only_to_contacts_and_accounts_the_author_can_see(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    foreign_contact = world.contacts[(Role.SALES_REP, "other")]
    foreign_account = world.client.post(
        "/accounts", json={"name": "Far Co", "owner_id": world.stranger_id}, headers=world.headers(Role.ADMIN)
    ).json()["id"]
    deals_before = count(world.engine, Deal)
    links = [({"contact_id": foreign_contact}, "contact_id"), ({"account_id": foreign_account}, "account_id")]
    for link, field in links:
        refused = world.client.post("/deals", json={"name": "Sneaky", "amount": "1.00"} | link, headers=rep)
        assert (refused.status_code, refused.json()["field"]) == (422, field), refused.text
    assert count(world.engine, Deal) == deals_before
    own = world.contacts[(Role.SALES_REP, "own")]
    moved = world.client.patch(f"/contacts/{own}", json={"account_id": foreign_account}, headers=rep)
    assert (moved.status_code, moved.json()["field"]) == (422, "account_id")
    assert world.client.get(f"/contacts/{own}", headers=rep).json()["contact"]["account_id"] is None
