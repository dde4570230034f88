from __future__ import annotations

from dataclasses import replace
from datetime import timedelta

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from crm_core.bulk_load import clear_crm, load_tables
from crm_core.db import make_session_factory
from crm_core.demo import DemoConfig, generate
from crm_core.entities import Base, Contact, DealStage
from crm_core.errors import DatabaseNotEmptyError
from crm_core.unit_of_work import UnitOfWork

SMALL = DemoConfig(contacts=400, seed=3)


@pytest.fixture(scope="module")
def tables() -> dict[str, pl.DataFrame]:
    return generate(SMALL)


def test_same_seed_same_crm_and_another_seed_differs(tables: dict[str, pl.DataFrame]) -> None:
    again = generate(SMALL)
    assert all(tables[name].equals(again[name]) for name in tables)
    other = generate(DemoConfig(contacts=SMALL.contacts, seed=SMALL.seed + 1))
    assert not tables["activities"].equals(other["activities"])


def test_activity_scale_multiplies_activities_only_and_refuses_a_non_positive_scale() -> None:
    config = DemoConfig(contacts=3_000, seed=SMALL.seed)
    usual, busy = generate(config), generate(replace(config, activity_scale=2.2))
    ratio = busy["activities"].height / usual["activities"].height
    assert 2.1 < ratio < 2.3, f"activities grew {ratio:.2f}x for a scale of 2.2"
    events_per_contact = sum(busy[name].height for name in ("activities", "orders", "tickets")) / config.contacts
    assert 45 < events_per_contact < 55, "the sizing runs count on about 50 events per contact"
    for name in ("orders", "tickets"):
        assert 0.9 < busy[name].height / usual[name].height < 1.1, f"{name} should keep their rate"
    with pytest.raises(ValueError, match="activity_scale must be positive"):
        DemoConfig(activity_scale=0)


def test_history_is_coherent(tables: dict[str, pl.DataFrame]) -> None:
    contacts = tables["contacts"].select(pl.col("id").alias("contact_id"), "created_at")
    for name, column in [("activities", "occurred_at"), ("orders", "ordered_at"), ("tickets", "opened_at")]:
        events = tables[name].join(contacts, on="contact_id", how="left")
        assert events["created_at"].null_count() == 0, f"{name} reference unknown contacts"
        assert (events[column] >= events["created_at"]).all(), f"{name} before the contact existed"
        assert (events[column] < SMALL.history_end).all(), f"{name} after the end of history"
    lines = (
        tables["order_lines"].group_by("order_id").agg((pl.col("quantity") * pl.col("unit_price")).sum().alias("sum"))
    )
    orders = tables["orders"].join(lines, left_on="id", right_on="order_id")
    assert ((orders["total"] - orders["sum"]).abs() < 0.011).all()
    tickets = tables["tickets"].filter(pl.col("resolved_at").is_not_null())
    assert (tickets["resolved_at"] >= tickets["opened_at"]).all()
    assert set(tables["deals"]["stage"].unique()) <= {stage.value for stage in DealStage}
    closed = tables["deals"].filter(pl.col("status") != "open")
    assert closed["closed_at"].null_count() == 0


def test_churners_fade_before_they_leave(tables: dict[str, pl.DataFrame]) -> None:
    """The signal the models must find: contacts silent in the last 90 days were already
    less active in the 90 days before that than contacts who stayed."""
    end = SMALL.history_end
    last_quarter, previous_quarter = end - timedelta(days=90), end - timedelta(days=180)
    established = tables["contacts"].filter(pl.col("created_at") < end - timedelta(days=365))["id"]
    activity = tables["activities"].filter(pl.col("contact_id").is_in(established.implode()))
    stayed = set(activity.filter(pl.col("occurred_at") > last_quarter)["contact_id"])
    before = (
        activity.filter(pl.col("occurred_at").is_between(previous_quarter, last_quarter, closed="right"))
        .group_by("contact_id")
        .len()
    )
    counts = pl.DataFrame({"contact_id": established}).join(before, on="contact_id", how="left").fill_null(0)
    counts = counts.with_columns(pl.col("contact_id").is_in(list(stayed)).alias("stayed"))
    mean_by_group = dict(counts.group_by("stayed").agg(pl.col("len").mean()).iter_rows())
    assert mean_by_group[False] < 0.6 * mean_by_group[True]


def test_load_inserts_everything_and_refuses_a_non_empty_crm(engine: Engine, tables: dict[str, pl.DataFrame]) -> None:
    loaded = load_tables(engine, tables)
    assert loaded == {name: frame.height for name, frame in tables.items()}
    with engine.connect() as connection:
        for name, frame in tables.items():
            table = Base.metadata.tables[name]
            assert connection.execute(select(func.count()).select_from(table)).scalar_one() == frame.height
    with pytest.raises(DatabaseNotEmptyError):
        load_tables(engine, tables)
    # Ids given explicitly must not break later inserts (PostgreSQL sequences moved past them).
    with UnitOfWork(make_session_factory(engine)) as uow:
        contact = Contact(first_name="New", last_name="Person", lifecycle_stage="lead", created_at=SMALL.history_end)
        uow.session.add(contact)
        uow.commit()
        assert contact.id == SMALL.contacts + 1
    clear_crm(engine)
    with engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Contact)).scalar_one() == 0


def test_demo_consents_give_marketers_a_lawful_audience_and_opt_outs(tables: dict[str, pl.DataFrame]) -> None:
    consents = tables["consents"]
    assert set(consents["contact_id"].to_list()) <= set(tables["contacts"]["id"].to_list())
    newest_email = (
        consents.filter(pl.col("channel") == "email")
        .sort("recorded_at")
        .group_by("contact_id")
        .agg(pl.col("status").last())
    )
    opted_in = newest_email.filter(pl.col("status") == "granted").height / SMALL.contacts
    assert 0.45 < opted_in < 0.75, "most but not all people take email"
    assert newest_email.filter(pl.col("status") == "withdrawn").height > 0, "some withdrew after opting in"
    signed_up = tables["contacts"].select("id", "created_at").rename({"id": "contact_id"})
    joined = consents.join(signed_up, on="contact_id")
    assert (joined["recorded_at"] >= joined["created_at"]).all(), "nobody consents before they exist"
