"""A contact's history of its lifecycle stage and custom values: every write path appends to it
(the API, the contact import, a history file from another CRM), a history file brings each
contact's newest value current, and erasure removes it with the person."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm_core.auth.policy import Role
from crm_core.entities import Contact, ContactChange
from tests.crm_core.conftest import World

ERASE = {"reason": "subject_request"}


def _history(world: World, contact_id: int) -> list[tuple[str, str | None]]:
    with world.engine.connect() as connection:
        rows = connection.execute(
            select(ContactChange.field, ContactChange.value)
            .where(ContactChange.contact_id == contact_id)
            .order_by(ContactChange.changed_at, ContactChange.id)
        ).all()
    return [(field, value) for field, value in rows]


def _upload(world: World, role: Role, kind: str, csv: str) -> Any:
    files = {"file": (f"{kind}.csv", csv.encode(), "text/csv")}
    response = world.client.post(f"/imports/{kind}", files=files, headers=world.headers(role))
    assert response.status_code == 200, response.text
    return response.json()


def test_api_writes_append_what_changed_and_nothing_else(world: World) -> None:
    admin = world.headers(Role.ADMIN)
    defined = world.client.post(
        "/custom-fields",
        json={"entity": "contact", "name": "plan", "label": "Plan", "type": "choice", "choices": ["free", "paid"]},
        headers=admin,
    )
    assert defined.status_code == 201, defined.text
    created = world.client.post(
        "/contacts", json={"first_name": "Hi", "last_name": "Story", "custom": {"plan": "free"}}, headers=admin
    ).json()
    contact = created["id"]
    assert _history(world, contact) == [("custom.plan", "free"), ("lifecycle_stage", "lead")]
    for body in ({"lifecycle_stage": "customer"}, {"lifecycle_stage": "customer"}, {"custom": {"plan": None}}):
        assert world.client.patch(f"/contacts/{contact}", json=body, headers=admin).status_code == 200
    assert _history(world, contact)[2:] == [("lifecycle_stage", "customer"), ("custom.plan", None)], (
        "a write that changes nothing adds nothing; a cleared value is kept as cleared"
    )


def test_a_history_file_loads_once_and_brings_the_newest_values_current(world: World) -> None:
    admin = world.headers(Role.ADMIN)
    world.client.post(
        "/custom-fields",
        json={"entity": "contact", "name": "seats", "label": "Seats", "type": "integer"},
        headers=admin,
    )
    people = _upload(world, Role.ADMIN, "contacts", "external_id,first_name,created_at\nH-1,Ann,2024-01-01\n")
    assert people["inserted"] == 1
    with world.engine.connect() as connection:
        ann = connection.execute(select(Contact.id).where(Contact.external_id == "H-1")).scalar_one()
    assert _history(world, ann) == [("lifecycle_stage", "lead")], "an imported contact's first entry"

    history = (
        "contact,field,value,changed_at\n"
        "H-1,lifecycle_stage,Customer,2024-03-01\n"
        "H-1,lifecycle_stage,churned,2025-02-01\n"
        "H-1,custom.seats,12,2024-06-01\n"
        "H-1,seats,15,2024-09-01\n"
        "H-1,lifecycle_stage,churned,2025-02-01\n"
        "H-1,favourite_colour,blue,2024-01-01\n"
        "H-1,lifecycle_stage,vip,2024-01-01\n"
        "H-1,seats,many,2024-01-01\n"
        "H-9,lifecycle_stage,lead,2024-01-01\n"
    )
    report = _upload(world, Role.ADMIN, "contact_changes", history)
    assert (report["inserted"], report["duplicates_in_file"]) == (4, 1)
    assert [(p["row"], p["field"], p["value"]) for p in report["rejected"]] == [
        (6, "field", "favourite_colour"),
        (7, "value", "vip"),
        (8, "value", "many"),
        (9, "contact", "H-9"),
    ]
    assert _history(world, ann)[1:] == [
        ("lifecycle_stage", "customer"),
        ("custom.seats", "12"),
        ("custom.seats", "15"),
        ("lifecycle_stage", "churned"),
    ]
    record = world.client.get(f"/contacts/{ann}", headers=admin).json()["contact"]
    assert (record["lifecycle_stage"], record["custom"]) == ("churned", {"seats": 15}), "the newest value is current"

    again = _upload(world, Role.ADMIN, "contact_changes", history)
    assert (again["inserted"], again["unchanged"]) == (0, 4)

    assert world.client.post(f"/contacts/{ann}/erasure", json=ERASE, headers=admin).status_code in (200, 201)
    assert _history(world, ann) == [], "the history goes with the person"


def test_a_rep_cannot_write_history_onto_another_teams_contact(world: World) -> None:
    other = world.contacts[(Role.SALES_REP, "other")]
    own = world.contacts[(Role.SALES_REP, "own")]
    admin = world.headers(Role.ADMIN)
    for contact, email in ((other, "far@example.com"), (own, "near@example.com")):
        assert world.client.patch(f"/contacts/{contact}", json={"email": email}, headers=admin).status_code == 200
    csv = (
        "contact_email,field,value,changed_at\n"
        "far@example.com,lifecycle_stage,churned,2025-01-01\n"
        "near@example.com,lifecycle_stage,churned,2025-01-01\n"
    )
    report = _upload(world, Role.SALES_REP, "contact_changes", csv)
    assert report["inserted"] == 1
    assert [(p["row"], p["reason"]) for p in report["rejected"]] == [
        (1, "no contact with email 'far@example.com' in reach")
    ]
    assert _history(world, other) == []
