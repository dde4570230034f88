"""Deal stage transitions with history, and batch activity ingestion that keeps good rows."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import func, select

from crm_core.auth.policy import Role
from crm_core.entities import Activity, Deal
from tests.crm_core.conftest import World


def test_deal_moves_through_stages_with_history_and_closed_deals_stay_closed(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    contact = world.contacts[(Role.SALES_REP, "own")]
    opened = world.client.post(
        "/deals", json={"name": "Renewal", "amount": "1200.50", "contact_id": contact}, headers=rep
    )
    assert opened.status_code == 201, opened.text
    deal = opened.json()
    assert (deal["stage"], deal["status"], deal["owner_id"]) == ("prospecting", "open", world.users[Role.SALES_REP])
    path = f"/deals/{deal['id']}/stage"
    for stage in ("qualification", "proposal", "qualification", "closed_won"):
        moved = world.client.post(path, json={"stage": stage}, headers=rep)
        assert moved.status_code == 200, (stage, moved.text)
    final = moved.json()
    assert (final["stage"], final["status"]) == ("closed_won", "won")
    assert final["closed_at"] is not None
    history = world.client.get(f"/deals/{deal['id']}/history", headers=rep).json()
    assert [(h["from_stage"], h["to_stage"]) for h in history] == [
        (None, "prospecting"),
        ("prospecting", "qualification"),
        ("qualification", "proposal"),
        ("proposal", "qualification"),
        ("qualification", "closed_won"),
    ]
    reopened = world.client.post(path, json={"stage": "negotiation"}, headers=rep)
    assert reopened.status_code == 422
    assert "closed deals do not change stage" in reopened.json()["detail"]
    assert len(world.client.get(f"/deals/{deal['id']}/history", headers=rep).json()) == 5, (
        "a refused move adds no history"
    )


def test_a_deal_brought_from_another_crm_keeps_its_own_dates_in_order(world: World) -> None:
    """Opened and moved in the past: the history is the source's, the close date is the move's;
    a move dated before the last one, or a date in the future, is refused and adds nothing."""
    rep = world.headers(Role.SALES_REP)
    opened_on = datetime(2025, 3, 1, 9, 30)
    opened = world.client.post(
        "/deals", json={"name": "Old", "amount": "900", "opened_at": opened_on.isoformat()}, headers=rep
    )
    assert opened.status_code == 201, opened.text
    deal = opened.json()
    assert deal["opened_at"].startswith("2025-03-01T09:30:00")
    path = f"/deals/{deal['id']}/stage"
    moves = [("qualification", datetime(2025, 3, 20)), ("proposal", datetime(2025, 4, 2))]
    for stage, at in moves:
        moved = world.client.post(path, json={"stage": stage, "changed_at": at.isoformat()}, headers=rep)
        assert moved.status_code == 200, moved.text
    backwards = world.client.post(path, json={"stage": "negotiation", "changed_at": "2025-03-25T00:00:00"}, headers=rep)
    assert backwards.status_code == 422 and "changed_at" in backwards.text and "2025-04-02T00:00:00" in backwards.text
    future = (datetime.now(UTC) + timedelta(days=2)).isoformat()
    assert world.client.post(path, json={"stage": "negotiation", "changed_at": future}, headers=rep).status_code == 422
    ahead = world.client.post("/deals", json={"name": "Later", "amount": "1", "opened_at": future}, headers=rep)
    assert ahead.status_code == 422 and "opened_at" in ahead.text
    won = world.client.post(path, json={"stage": "closed_won", "changed_at": "2025-05-15T12:00:00Z"}, headers=rep)
    assert won.status_code == 200, won.text
    assert won.json()["closed_at"].startswith("2025-05-15T12:00:00")
    history = world.client.get(f"/deals/{deal['id']}/history", headers=rep).json()
    assert [(h["to_stage"], h["changed_at"][:10]) for h in history] == [
        ("prospecting", "2025-03-01"),
        ("qualification", "2025-03-20"),
        ("proposal", "2025-04-02"),
        ("closed_won", "2025-05-15"),
    ]


def test_invalid_deal_input_is_refused_with_the_field_named(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    with world.engine.connect() as connection:
        before = connection.execute(select(func.count()).select_from(Deal)).scalar_one()
    for payload, field in [
        ({"name": "X", "amount": "-5"}, "amount"),
        ({"name": "X", "amount": "1", "stage": "closed_won"}, "stage"),
        ({"name": "X", "amount": "1", "stage": "won-ish"}, "stage"),
        ({"name": "X", "amount": "1", "contact_id": 987654}, "contact_id"),
    ]:
        response = world.client.post("/deals", json=payload, headers=rep)
        assert response.status_code == 422, payload
        assert field in response.text
    deal = world.client.post("/deals", json={"name": "Y", "amount": "10"}, headers=rep).json()
    assert world.client.patch(f"/deals/{deal['id']}", json={"stage": "closed_won"}, headers=rep).status_code == 422
    assert (
        world.client.post(f"/deals/{deal['id']}/stage", json={"stage": "prospecting"}, headers=rep).status_code == 422
    )
    hidden = world.client.post(
        f"/deals/{deal['id']}/stage", json={"stage": "proposal"}, headers=world.headers(Role.MARKETER)
    )
    assert hidden.status_code == 403
    with world.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Deal)).scalar_one() == before + 1


def test_activity_batches_keep_good_rows_and_name_every_bad_one(world: World) -> None:
    rep = world.headers(Role.SALES_REP)
    own, other = world.contacts[(Role.SALES_REP, "own")], world.contacts[(Role.SALES_REP, "other")]
    when = (datetime.now(UTC) - timedelta(days=1)).isoformat()
    rows = [
        {"contact_id": own, "type": "email_open", "channel": "email", "occurred_at": when},
        {"contact_id": own, "type": "call", "channel": "fax", "occurred_at": when},
        {"contact_id": other, "type": "call", "channel": "phone", "occurred_at": when},
        {"contact_id": own, "type": "chat", "channel": "chat", "occurred_at": "yesterday"},
        {"contact_id": own, "type": "web_visit", "channel": "web", "occurred_at": "2099-01-01T00:00:00Z"},
        {
            "contact_id": own,
            "type": "meeting",
            "channel": "in-person",
            "occurred_at": when,
            "properties": {"room": "3"},
        },
    ]
    outcome = world.client.post("/activities/batch", json={"activities": rows}, headers=rep)
    assert outcome.status_code == 200, outcome.text
    body = outcome.json()
    assert body["inserted"] == 2
    assert [(p["index"], p["field"]) for p in body["rejected"]] == [
        (1, "channel"),
        (2, "contact_id"),
        (3, "occurred_at"),
        (4, "occurred_at"),
    ]
    with world.engine.connect() as connection:
        stored = connection.execute(select(Activity.type, Activity.properties).where(Activity.contact_id == own)).all()
    assert sorted(stored, key=lambda r: r[0]) == [("email_open", None), ("meeting", {"room": "3"})]
    assert world.client.post("/activities/batch", json={"activities": []}, headers=rep).status_code == 422
    marketer = world.client.post(
        "/activities/batch", json={"activities": rows[:1]}, headers=world.headers(Role.MARKETER)
    )
    assert marketer.status_code == 403
