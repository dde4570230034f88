"""A person's rights over the API: a full copy of their data, and erasure, for admins only."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_core.auth.policy import Role
from crm_core.entities import AuditEvent, Contact, Erasure
from tests.crm_core.conftest import World


def test_subject_export_holds_everything_in_full_and_is_audited(world: World) -> None:
    admin = world.headers(Role.ADMIN)
    created = world.client.post(
        "/contacts",
        json={"first_name": "Sue", "last_name": "B", "email": "sue@example.com", "notes": "likes jazz"},
        headers=admin,
    ).json()
    world.client.put(
        f"/contacts/{created['id']}/consents/email", json={"status": "granted", "source": "fair"}, headers=admin
    )
    world.client.post(
        "/tickets", json={"contact_id": created["id"], "channel": "phone", "subject": "Hello"}, headers=admin
    )
    document = world.client.get(f"/contacts/{created['id']}/subject-export", headers=admin)
    assert document.status_code == 200, document.text
    body = document.json()
    assert (body["contact"]["email"], body["contact"]["notes"]) == ("sue@example.com", "likes jazz")
    assert [c["channel"] for c in body["consents"]] == ["email"]
    assert [t["subject"] for t in body["tickets"]] == ["Hello"]
    assert [(c["field"], c["value"]) for c in body["stage_and_field_history"]] == [("lifecycle_stage", "lead")]
    assert {"contact.create", "consent.granted"} <= {event["action"] for event in body["changes_recorded"]}
    for role in Role:
        if role is not Role.ADMIN:
            denied = world.client.get(f"/contacts/{created['id']}/subject-export", headers=world.headers(role))
            assert denied.status_code == 403, role
    with world.engine.connect() as connection:
        actions = connection.execute(select(AuditEvent.action).where(AuditEvent.entity_id == str(created["id"])))
        assert "contact.subject_export" in set(actions.scalars())


def test_only_admins_erase_and_a_refused_erasure_changes_nothing(world: World) -> None:
    target = world.contacts[(Role.SALES_REP, "own")]

    def counts() -> tuple[int, int]:
        with world.engine.connect() as connection:
            contacts = connection.execute(select(func.count()).select_from(Contact)).scalar_one()
            erasures = connection.execute(select(func.count()).select_from(Erasure)).scalar_one()
        return int(contacts), int(erasures)

    before = counts()
    for role in Role:
        if role is not Role.ADMIN:
            refused = world.client.post(
                f"/contacts/{target}/erasure", json={"reason": "subject_request"}, headers=world.headers(role)
            )
            assert refused.status_code == 403, role
    assert counts() == before
    bad_reason = world.client.post(
        f"/contacts/{target}/erasure", json={"reason": "he asked nicely"}, headers=world.headers(Role.ADMIN)
    )
    assert bad_reason.status_code == 422
    done = world.client.post(
        f"/contacts/{target}/erasure", json={"reason": "subject_request"}, headers=world.headers(Role.ADMIN)
    )
    assert done.status_code == 200, done.text
    assert done.json()["rows_deleted"]["contacts"] == 1 and "pending" in done.json()["features_purge"]
    assert counts() == (before[0] - 1, before[1] + 1)
    again = world.client.post(
        f"/contacts/{target}/erasure", json={"reason": "subject_request"}, headers=world.headers(Role.ADMIN)
    )
    assert again.status_code == 404
    gone = world.client.get(f"/contacts/{target}", headers=world.headers(Role.SALES_REP))
    assert gone.status_code == 404
