"""Import resolves accounts, owners and matches only within the importer's reach (issue 19,
finding 4): a rep's CSV could link a new contact to another team's account, probe names, and
tell another team's contact from an erased person."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm_core.auth.policy import Role
from crm_core.entities import Account, Contact
from crm_core.services.person_guard import HELD_BACK
from tests.crm_core.conftest import NOW, World

ERASE = {"reason": "subject_request"}


def _import(world: World, role: Role, csv: str, **form: Any) -> Any:
    files = {"file": ("people.csv", csv.encode(), "text/csv")}
    response = world.client.post("/imports/contacts", files=files, data=form, headers=world.headers(role))
    return response


def _other_teams_account(world: World) -> tuple[int, str]:
    name = "Far Team Holdings"
    with world.engine.begin() as connection:
        account_id = connection.execute(
            Account.__table__.insert().values(name=name, owner_id=world.stranger_id, created_at=NOW)
        ).inserted_primary_key[0]
    return int(account_id), name


def test_a_rep_cannot_link_an_imported_contact_to_another_teams_account(world: World) -> None:
    account_id, name = _other_teams_account(world)
    report = _import(world, Role.SALES_REP, f"first_name,last_name,account\nLink,Attempt,{name}\n")
    assert report.status_code == 200, report.text
    assert report.json()["inserted"] == 1
    with world.engine.connect() as connection:
        linked = connection.execute(select(Contact.account_id).where(Contact.last_name == "Attempt")).scalar_one()
        own_account = connection.execute(select(Account.owner_id).where(Account.id == linked)).scalar_one()
    assert linked != account_id, "never linked to the other team's account"
    assert own_account == world.users[Role.SALES_REP], "the rep got an account of their own by that name"
    listed = world.client.get("/contacts", params={"limit": 200}, headers=world.headers(Role.SALES_REP)).json()
    mine = next(item for item in listed["items"] if item["last_name"] == "Attempt")
    view = world.client.get(f"/contacts/{mine['id']}/360", headers=world.headers(Role.SALES_REP))
    assert view.status_code == 200 and view.json()["account"]["id"] == linked, "the 360 shows the rep's own account"


def test_an_admin_import_still_links_existing_accounts(world: World) -> None:
    account_id, name = _other_teams_account(world)
    report = _import(world, Role.ADMIN, f"first_name,last_name,account\nAdmin,Linked,{name}\n")
    assert report.json()["inserted"] == 1
    with world.engine.connect() as connection:
        linked = connection.execute(select(Contact.account_id).where(Contact.last_name == "Linked")).scalar_one()
    assert linked == account_id


def test_a_rep_cannot_tell_another_teams_contact_from_an_erased_person(world: World) -> None:
    admin = world.headers(Role.ADMIN)
    other = world.contacts[(Role.SALES_REP, "other")]
    world.client.patch(f"/contacts/{other}", json={"email": "taken@example.com"}, headers=admin)
    created = world.client.post(
        "/contacts", json={"first_name": "E", "last_name": "R", "email": "erased@example.com"}, headers=admin
    )
    world.client.post(f"/contacts/{created.json()['id']}/erasure", json=ERASE, headers=admin)

    report = _import(
        world,
        Role.SALES_REP,
        "first_name,last_name,email\nA,Taken,taken@example.com\nB,Erased,erased@example.com\nC,New,new@example.com\n",
    ).json()
    assert report["inserted"] == 1 and report["flagged"] == []
    problems = {problem["row"]: (problem["field"], problem["reason"]) for problem in report["rejected"]}
    assert problems == {1: ("email", HELD_BACK), 2: ("email", HELD_BACK)}
    assert "erased" not in str(report["rejected"]).replace(HELD_BACK, "")


def test_reloading_an_erased_person_is_an_administrators_act(world: World) -> None:
    admin = world.headers(Role.ADMIN)
    created = world.client.post(
        "/contacts", json={"first_name": "E", "last_name": "R", "email": "back@example.com"}, headers=admin
    )
    world.client.post(f"/contacts/{created.json()['id']}/erasure", json=ERASE, headers=admin)
    csv = "first_name,last_name,email\nBack,Again,back@example.com\n"

    assert _import(world, Role.SALES_REP, csv, allow_erased="true").status_code == 403
    told = _import(world, Role.ADMIN, csv).json()
    assert told["inserted"] == 0 and "erased on request before" in told["flagged"][0]["reason"]
    reloaded = _import(world, Role.ADMIN, csv, allow_erased="true").json()
    assert reloaded["inserted"] == 1 and "loaded as allowed" in reloaded["flagged"][0]["reason"]


def test_owner_emails_outside_reach_read_like_unknown_ones(world: World) -> None:
    csv = "first_name,last_name,owner_email\nA,One,far@x.test\nB,Two,nobody-at-all@x.test\n"
    report = _import(world, Role.SALES_REP, csv).json()
    reasons = {problem["row"]: problem["reason"] for problem in report["rejected"]}
    assert reasons[1].replace("far@x.test", "X") == reasons[2].replace("nobody-at-all@x.test", "X")
