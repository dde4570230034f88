"""External ids over the API: every record kind keeps its id from the system it came from,
unique per kind, found by it, and a clash never tells a rep about another team's person."""

from __future__ import annotations

import pytest

from crm_core.auth.policy import Role
from crm_core.services.person_guard import HELD_BACK
from tests.crm_core.conftest import World


def _create_bodies(world: World) -> dict[str, dict[str, object]]:
    own = world.contacts[(Role.ADMIN, "own")]
    return {
        "/contacts": {"first_name": "Ida", "last_name": "Berg"},
        "/accounts": {"name": "Berg AB"},
        "/products": {"sku": "TEA-1", "name": "Tea", "category": "food", "unit_price": "2.50"},
        "/deals": {"name": "Berg renewal", "amount": "900", "contact_id": own},
        "/tickets": {"contact_id": own, "channel": "email", "subject": "Refund"},
    }


@pytest.mark.parametrize("path", ["/contacts", "/accounts", "/products", "/deals", "/tickets", "/orders"])
def test_each_kind_keeps_its_external_id_finds_by_it_and_refuses_a_second_holder(world: World, path: str) -> None:
    admin = world.headers(Role.ADMIN)
    bodies = _create_bodies(world)
    if path == "/orders":
        product = world.client.post("/products", json=bodies["/products"], headers=admin).json()["id"]
        body = {"contact_id": world.contacts[(Role.ADMIN, "own")], "lines": [{"product_id": product, "quantity": 1.25}]}
    else:
        body = bodies[path]
    created = world.client.post(path, json=body | {"external_id": "  SRC-0001 "}, headers=admin)
    assert created.status_code == 201, created.text
    assert created.json()["external_id"] == "SRC-0001", "kept as sent, surrounding spaces dropped"

    found = world.client.get(path, params={"external_id": "SRC-0001"}, headers=admin).json()["items"]
    assert [item["id"] for item in found] == [created.json()["id"]]
    assert world.client.get(path, params={"external_id": "SRC-0002"}, headers=admin).json()["items"] == []

    if path == "/products":
        body = body | {"sku": "TEA-2"}
    again = world.client.post(path, json=body | {"external_id": "SRC-0001"}, headers=admin)
    assert again.status_code == 409, again.text
    assert again.json()["field"] == "external_id"
    assert len(world.client.get(path, params={"external_id": "SRC-0001"}, headers=admin).json()["items"]) == 1


def test_an_order_line_keeps_a_decimal_quantity_and_prices_it(world: World) -> None:
    admin = world.headers(Role.ADMIN)
    product = world.client.post(
        "/products", json={"sku": "FLOUR", "name": "Flour", "category": "food", "unit_price": "2.00"}, headers=admin
    ).json()["id"]
    order = world.client.post(
        "/orders",
        json={"contact_id": world.contacts[(Role.ADMIN, "own")], "lines": [{"product_id": product, "quantity": 1.25}]},
        headers=admin,
    )
    assert order.status_code == 201, order.text
    assert order.json()["lines"][0]["quantity"] == 1.25
    assert order.json()["total"] == "2.50"


@pytest.mark.parametrize("bad", ["", "   ", "A\x00B", "line\nbreak", "x" * 121])
def test_an_unprintable_or_overlong_external_id_is_refused(world: World, bad: str) -> None:
    response = world.client.post(
        "/accounts", json={"name": "Bad Id", "external_id": bad}, headers=world.headers(Role.ADMIN)
    )
    assert response.status_code == 422, response.text
    assert "Bad Id" not in [
        a["name"] for a in world.client.get("/accounts", headers=world.headers(Role.ADMIN)).json()["items"]
    ]


def test_a_contact_id_clash_out_of_reach_answers_like_an_erased_person(world: World) -> None:
    admin, rep = world.headers(Role.ADMIN), world.headers(Role.SALES_REP)
    other_team = world.client.post(
        "/contacts", json={"first_name": "Hid", "last_name": "Den", "external_id": "CUST-9"}, headers=admin
    )
    assert other_team.status_code == 201, other_team.text
    clash = world.client.post(
        "/contacts", json={"first_name": "Own", "last_name": "Try", "external_id": "CUST-9"}, headers=rep
    )
    assert clash.status_code == 409
    assert clash.json()["detail"] == HELD_BACK or HELD_BACK in clash.text
    assert str(other_team.json()["id"]) not in clash.text
    assert world.client.get("/contacts", params={"external_id": "CUST-9"}, headers=rep).json()["items"] == []


def test_an_external_id_is_set_later_by_update(world: World) -> None:
    admin = world.headers(Role.ADMIN)
    account = world.client.post("/accounts", json={"name": "Late Id"}, headers=admin).json()
    assert account["external_id"] is None
    patched = world.client.patch(f"/accounts/{account['id']}", json={"external_id": "ACC-7"}, headers=admin)
    assert patched.status_code == 200, patched.text
    assert patched.json()["external_id"] == "ACC-7"
