from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

from sqlalchemy import insert

from crm_core.auth.policy import Role
from crm_core.entities import Order, Ticket
from tests.crm_core.conftest import World


def test_360_gathers_the_record_for_those_who_may_read_it(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    contact = world.contacts[(Role.SALES_REP, "own")]
    account = world.client.post("/accounts", json={"name": "Acme"}, headers=rep).json()
    world.client.patch(f"/contacts/{contact}", json={"account_id": account["id"]}, headers=rep)
    world.client.post("/deals", json={"name": "Upsell", "amount": "99.90", "contact_id": contact}, headers=rep)
    when = datetime.now(UTC).replace(tzinfo=None) - timedelta(days=2)
    events = [
        {"contact_id": contact, "type": t, "channel": "email", "occurred_at": (when + timedelta(hours=i)).isoformat()}
        for i, t in enumerate(["email_open", "email_click"])
    ]
    world.client.post("/activities/batch", json={"activities": events}, headers=rep)
    with world.engine.begin() as connection:
        connection.execute(
            insert(Ticket),
            [
                {
                    "contact_id": contact,
                    "channel": "chat",
                    "priority": "high",
                    "status": "open",
                    "subject": "Login broken",
                    "opened_at": when,
                    "resolved_at": None,
                    "satisfaction": None,
                }
            ],
        )
        connection.execute(
            insert(Order),
            [{"contact_id": contact, "ordered_at": when, "status": "completed", "total": Decimal("42.00")}],
        )

    view = world.client.get(f"/contacts/{contact}/360", headers=rep)
    assert view.status_code == 200, view.text
    body = view.json()
    assert body["contact"]["id"] == contact
    assert body["account"]["name"] == "Acme"
    assert [a["type"] for a in body["timeline"]] == ["email_click", "email_open"], "newest first"
    assert [d["name"] for d in body["deals"]] == ["Upsell"]
    assert [t["subject"] for t in body["tickets"]] == ["Login broken"]
    assert [o["total"] for o in body["orders"]] == ["42.00"]

    other = world.contacts[(Role.SALES_REP, "other")]
    assert world.client.get(f"/contacts/{other}/360", headers=rep).status_code == 404
    assert world.client.get(f"/contacts/{contact}/360", headers=world.headers(Role.DATA_SCIENTIST)).status_code == 403
    marketer = world.client.get(f"/contacts/{contact}/360", headers=world.headers(Role.MARKETER)).json()
    assert marketer["deals"] and marketer["timeline"], "marketers read the record (field masking arrives later)"
