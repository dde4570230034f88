"""Custom fields: defined by admins, typed and validated on every write, filterable, imported,
and handed to the feature pipeline as typed columns."""

from __future__ import annotations

from datetime import date

import polars as pl
from sqlalchemy import func, select

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Contact
from crm_core.exports import export_crm
from crm_core.imports.contacts import import_contacts
from crm_core.unit_of_work import UnitOfWork
from tests.crm_core.conftest import World

FIELDS = [
    {"name": "plan", "label": "Plan", "type": "choice", "choices": ["basic", "pro"]},
    {"name": "seats", "label": "Seats", "type": "integer"},
    {"name": "renewal", "label": "Renewal date", "type": "date"},
    {"name": "vip", "label": "VIP", "type": "boolean"},
    {"name": "spend", "label": "Monthly spend", "type": "number"},
]


def define_fields(world: World) -> None:
    for body in FIELDS:
        response = world.client.post(
            "/custom-fields", json=body | {"entity": "contact"}, headers=world.headers(Role.ADMIN)
        )
        assert response.status_code == 201, response.text


def contact_count(world: World) -> int:
    with world.engine.connect() as connection:
        return int(connection.execute(select(func.count()).select_from(Contact)).scalar_one())


def test_only_admins_define_fields_and_definitions_are_checked(world: World) -> None:
    define_fields(world)
    rep = world.client.post(
        "/custom-fields",
        json={"entity": "contact", "name": "x", "label": "X", "type": "text"},
        headers=world.headers(Role.SALES_REP),
    )
    assert rep.status_code == 403
    admin = world.headers(Role.ADMIN)
    again = world.client.post("/custom-fields", json=FIELDS[0] | {"entity": "contact"}, headers=admin)
    assert again.status_code == 409
    no_choices = {"entity": "deal", "name": "tier", "label": "Tier", "type": "choice"}
    assert world.client.post("/custom-fields", json=no_choices, headers=admin).status_code == 422
    listed = world.client.get("/custom-fields", params={"entity": "contact"}, headers=world.headers(Role.MARKETER))
    assert [field["name"] for field in listed.json()] == [field["name"] for field in FIELDS]


def test_values_are_typed_validated_merged_and_filterable(world: World) -> None:
    define_fields(world)
    rep = world.headers(Role.SALES_REP)
    base = {"first_name": "Cy", "last_name": "Field"}
    before = contact_count(world)
    for custom, field in (
        ({"plan": "gold"}, "custom.plan"),
        ({"nope": 1}, "custom.nope"),
        ({"seats": 2.5}, "custom.seats"),
    ):
        refused = world.client.post("/contacts", json=base | {"custom": custom}, headers=rep)
        assert (refused.status_code, refused.json()["field"]) == (422, field), refused.text
    assert contact_count(world) == before, "a refused value writes nothing"

    custom = {"plan": "pro", "seats": "12", "renewal": "2027-03-01", "vip": "yes", "spend": 99.5}
    created = world.client.post("/contacts", json=base | {"custom": custom}, headers=rep)
    assert created.status_code == 201, created.text
    stored = created.json()["custom"]
    assert stored == {"plan": "pro", "seats": 12, "renewal": "2027-03-01", "vip": True, "spend": 99.5}
    other = world.client.post("/contacts", json=base | {"custom": {"plan": "basic", "seats": 3}}, headers=rep)
    contact_id = created.json()["id"]

    patched = world.client.patch(f"/contacts/{contact_id}", json={"custom": {"seats": None, "vip": "no"}}, headers=rep)
    assert patched.json()["custom"] == {"plan": "pro", "renewal": "2027-03-01", "vip": False, "spend": 99.5}

    def ids(*pairs: str) -> list[int]:
        page = world.client.get("/contacts", params={"custom": list(pairs)}, headers=rep)
        assert page.status_code == 200, page.text
        return [item["id"] for item in page.json()["items"]]

    assert ids("plan=pro") == [contact_id]
    assert ids("seats=3") == [other.json()["id"]]
    assert ids("vip=false", "spend=99.5") == [contact_id]
    assert world.client.get("/contacts", params={"custom": "plan=gold"}, headers=rep).status_code == 422


def test_imports_fill_custom_fields_and_features_see_them_typed(world: World) -> None:
    define_fields(world)
    file = pl.DataFrame(
        {
            "first_name": ["Ann", "Bob", "Cat"],
            "last_name": ["A", "B", "C"],
            "email": ["ann@example.com", "bob@example.com", "cat@example.com"],
            "Plan": ["pro", "platinum", "basic"],
            "Seats": ["5", "6", "x"],
            "renewal": ["2027-01-31", None, "2027-02-01"],
        }
    )
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        report = import_contacts(
            uow,
            Principal.system(Role.ADMIN, "test"),
            file,
            mapping={"custom.plan": "Plan", "custom.seats": "Seats", "custom.renewal": "renewal"},
            source="f.csv",
            now=utc_now(),
        )
        uow.commit()
    assert [(problem.row, problem.field) for problem in report.rejected] == [(2, "custom.plan"), (3, "custom.seats")]
    assert report.inserted == 1
    frame = export_crm(world.engine).contact_custom
    assert (
        frame.schema["seats"] == pl.Int64 and frame.schema["renewal"] == pl.Date and frame.schema["vip"] == pl.Boolean
    )
    ann = frame.filter(pl.col("seats") == 5).row(0, named=True)
    assert (ann["plan"], ann["renewal"]) == ("pro", date(2027, 1, 31))
