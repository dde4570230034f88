"""After an erasure: the id is never handed to someone else, and the person comes back only by
an administrator's act; a rep cannot tell an erased person from another team's contact."""

from __future__ import annotations

from sqlalchemy import func, select

from crm_core.auth.policy import Role
from crm_core.entities import Contact
from crm_core.services.person_guard import ERASED, HELD_BACK
from tests.crm_core.conftest import World

ERASE = {"reason": "subject_request"}


def _newest_contact(world: World, email: str) -> int:
    body = {"first_name": "Erin", "last_name": "Rased", "email": email}
    created = world.client.post("/contacts", json=body, headers=world.headers(Role.SALES_REP))
    assert created.status_code == 201, created.text
    contact_id = int(created.json()["id"])
    with world.engine.connect() as connection:
        assert connection.execute(select(func.max(Contact.id))).scalar_one() == contact_id
    return contact_id


def test_the_next_person_never_inherits_an_erased_id_or_their_trail(world: World) -> None:
    admin = world.headers(Role.ADMIN)
    erased = _newest_contact(world, "erin@example.com")
    assert world.client.post(f"/contacts/{erased}/erasure", json=ERASE, headers=admin).status_code == 200
    newcomer = world.client.post("/contacts", json={"first_name": "New", "last_name": "Comer"}, headers=admin)
    assert newcomer.status_code == 201
    assert newcomer.json()["id"] > erased
    export = world.client.get(f"/contacts/{newcomer.json()['id']}/subject-export", headers=admin).json()
    assert all(event["action"] != "contact.erase" for event in export["changes_recorded"])


def test_an_erased_person_comes_back_only_by_an_administrators_act(world: World) -> None:
    rep, admin = world.headers(Role.SALES_REP), world.headers(Role.ADMIN)
    erased = _newest_contact(world, "gone@example.com")
    world.client.post(f"/contacts/{erased}/erasure", json=ERASE, headers=admin)
    again = {"first_name": "Gone", "last_name": "Again", "email": "Gone@Example.com"}

    by_rep = world.client.post("/contacts", json=again, headers=rep)
    assert by_rep.status_code == 409 and by_rep.json()["detail"].endswith(HELD_BACK)
    assert world.client.post("/contacts", json={**again, "allow_erased": True}, headers=rep).status_code == 403
    by_admin = world.client.post("/contacts", json=again, headers=admin)
    assert by_admin.status_code == 409 and by_admin.json()["detail"].endswith(ERASED)
    readded = world.client.post("/contacts", json={**again, "allow_erased": True}, headers=admin)
    assert readded.status_code == 201, readded.text


def test_a_rep_cannot_tell_erased_from_another_teams_contact(world: World) -> None:
    rep, admin = world.headers(Role.SALES_REP), world.headers(Role.ADMIN)
    other = world.contacts[(Role.SALES_REP, "other")]
    assert world.client.patch(f"/contacts/{other}", json={"email": "taken@example.com"}, headers=admin).is_success
    erased = _newest_contact(world, "erased@example.com")
    world.client.post(f"/contacts/{erased}/erasure", json=ERASE, headers=admin)

    answers = [
        world.client.post("/contacts", json={"first_name": "A", "last_name": "B", "email": email}, headers=rep)
        for email in ("taken@example.com", "erased@example.com")
    ]
    assert [answer.status_code for answer in answers] == [409, 409]
    assert answers[0].json() == answers[1].json()
    assert str(other) not in answers[0].text
    own = world.contacts[(Role.SALES_REP, "own")]
    world.client.patch(f"/contacts/{own}", json={"email": "mine@example.com"}, headers=rep)
    duplicate = world.client.post(
        "/contacts", json={"first_name": "A", "last_name": "B", "email": "mine@example.com"}, headers=rep
    )
    assert duplicate.status_code == 409 and f"contact {own}" in duplicate.json()["detail"]
