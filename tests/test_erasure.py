"""Erasing a person end to end: after `crm-intel erase`, their canary email and phone are found
nowhere (CRM tables, database files, feature snapshots, online store, command output), their
feature rows are gone, and an import bringing them back is held and flagged."""

from __future__ import annotations

import sqlite3
import uuid
from pathlib import Path

import polars as pl
from sqlalchemy import func, select, text

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_engine, make_session_factory
from crm_core.entities import Activity, AuditEvent, Contact, Erasure, Order, Prediction, Ticket
from crm_core.exports import export_crm
from crm_core.imports.contacts import import_contacts
from crm_core.services.audit import verify_chain
from crm_core.unit_of_work import UnitOfWork
from features.online.reader import open_online_reader
from features.settings import FeatureSettings
from features.store import open_store
from tests.conftest import DataHome

OPERATOR = Principal.system(Role.ADMIN, "erasure test")


def busiest_contact(home: DataHome) -> int:
    """A contact with activities, orders and tickets, so erasure has rows everywhere to remove."""
    engine = make_engine(home.database_url)
    with engine.connect() as connection:
        contact_id = connection.execute(
            select(Activity.contact_id)
            .where(
                Activity.contact_id.in_(select(Order.contact_id)), Activity.contact_id.in_(select(Ticket.contact_id))
            )
            .group_by(Activity.contact_id)
            .order_by(func.count().desc())
            .limit(1)
        ).scalar_one()
    engine.dispose()
    return int(contact_id)


def files_containing(root: Path, needles: list[bytes]) -> list[str]:
    found = []
    for path in root.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            found.extend(f"{path.relative_to(root)}: {needle!r}" for needle in needles if needle in data)
    return found


def online_rows(home: DataHome, contact_id: int) -> int:
    settings = FeatureSettings(home=home.path)
    values = open_online_reader(settings, open_store(settings)).read("churn_v1", [contact_id])
    feature_columns = [name for name in values.columns if name not in {"contact_id", "event_timestamp"}]
    return int(values.select(pl.any_horizontal(pl.col(feature_columns).is_not_null())).to_series().sum())


def test_an_erased_person_is_found_nowhere_and_is_held_back_on_reimport(tmp_path: Path) -> None:
    home = DataHome(tmp_path / "home")
    outputs: list[str] = []

    def run(*args: str) -> str:
        done = home.cli(*args, cwd=tmp_path)
        assert done.returncode == 0, done.stdout + done.stderr
        outputs.append(done.stdout + done.stderr)
        return done.stdout

    run("demo-data", "--contacts", "400", "--seed", "3")
    target = busiest_contact(home)
    tag = uuid.uuid4().hex[:8]
    canary_email, canary_phone = f"erase.me.{tag}@example.com", f"+4479{int(tag, 16) % 10**8:08d}"
    canary_name, canary_subject, canary_text = f"Zyx{tag}", f"Refund dispute {tag}", f"called about {tag} invoice"
    engine = make_engine(home.database_url)
    with UnitOfWork(make_session_factory(engine)) as uow:
        contact = uow.session.get_one(Contact, target)
        contact.email, contact.phone, contact.notes = canary_email, canary_phone, f"canary {tag}"
        contact.last_name = canary_name
        uow.session.add(
            Ticket(
                contact_id=target,
                channel="email",
                priority="high",
                status="open",
                subject=canary_subject,
                opened_at=utc_now(),
            )
        )
        uow.session.add(
            Activity(
                contact_id=target,
                type="call",
                channel="phone",
                occurred_at=utc_now(),
                properties={"summary": canary_text},
            )
        )
        uow.commit()
    run("build-features")
    run("train", "churn")
    training_sets = list((home.path / "training_sets").glob("churn-*.parquet"))
    assert any(pl.read_parquet(path).filter(pl.col("contact_id") == target).height for path in training_sets)
    assert online_rows(home, target) == 1, "before erasure the person is in the online store"
    snapshots = FeatureSettings(home=home.path).snapshot_path
    assert pl.read_parquet(snapshots).filter(pl.col("contact_id") == target).height > 0

    run("erase", str(target), "--reason", "subject_request")

    with engine.connect() as connection:
        for model in (Contact, Activity, Order, Ticket, Prediction):
            column = model.id if model is Contact else model.contact_id
            assert connection.execute(select(func.count()).where(column == target)).scalar_one() == 0, model
        erasure = connection.execute(select(Erasure).where(Erasure.contact_id == target)).one()
        assert erasure.features_purged_at is not None and erasure.email_hash is not None
        assert connection.execute(
            select(AuditEvent.action).where(AuditEvent.entity_id == str(target)).order_by(AuditEvent.id.desc())
        ).first() == ("contact.erase",)
        assert connection.execute(text("SELECT count(*) FROM contacts")).scalar_one() == 399
    assert pl.read_parquet(snapshots).filter(pl.col("contact_id") == target).height == 0
    assert online_rows(home, target) == 0
    with sqlite3.connect(FeatureSettings(home=home.path).online_path) as online:
        assert online.execute("SELECT count(*) FROM sqlite_master WHERE name LIKE 'contact_features_%'").fetchone()[0]
        (table,) = online.execute("SELECT name FROM sqlite_master WHERE name LIKE 'contact_features_%'").fetchone()
        assert online.execute(f'SELECT count(*) FROM "{table}"').fetchone()[0] == 399, "everyone else is still online"
    assert target not in export_crm(engine).contacts["contact_id"].to_list(), "excluded from future training sets"

    for path in training_sets:
        assert pl.read_parquet(path).filter(pl.col("contact_id") == target).height == 0, path.name
    needles = [canary_email.encode(), canary_phone.encode(), canary_phone[1:].encode(), f"canary {tag}".encode()]
    needles += [canary_name.encode(), canary_subject.encode(), canary_text.encode()]
    assert files_containing(home.path, needles) == []
    assert not any(needle.decode() in output for output in outputs for needle in needles)

    comeback = pl.DataFrame({"first_name": ["Back"], "last_name": ["Again"], "email": [canary_email.upper()]})
    with UnitOfWork(make_session_factory(engine)) as uow:
        report = import_contacts(uow, OPERATOR, comeback, source="old-list.csv", now=utc_now())
        uow.commit()
        assert report.inserted == 0 and [problem.row for problem in report.flagged] == [1]
        assert verify_chain(uow).intact
    engine.dispose()
