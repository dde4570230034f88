"""Eight writers at once on one SQLite file, each its own process: six API clients creating and
editing contacts for a fixed time, a contact import and a batch write-back. No "database is locked" may reach
anyone, and every write must land."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import func, select

from benchmarks.synthetic import bare_contacts
from crm_core.bulk_load import load_tables
from crm_core.clock import utc_now
from crm_core.db import make_engine, make_session_factory
from crm_core.entities import AuditEvent, Contact, Prediction
from crm_core.migrate import upgrade
from crm_core.services.audit import verify_chain
from crm_core.services.identity import login
from crm_core.services.users import create_user
from crm_core.settings import CoreSettings
from crm_core.unit_of_work import UnitOfWork
from tests.conftest import DataHome
from tests.crash.barrier import ENV as BARRIER
from tests.crm_core.conftest import OPERATOR, PASSWORD

pytestmark = pytest.mark.slow

API_CLIENTS = 6
EDIT_SECONDS = 12
SCORED_CONTACTS = 20_000
IMPORTED = 3_000


def _admin_token(url: str) -> str:
    engine = make_engine(url)
    try:
        with UnitOfWork(make_session_factory(engine)) as uow:
            create_user(
                uow, OPERATOR, email="ops@x.test", full_name="Ops", role="admin", password=PASSWORD, now=utc_now()
            )
            uow.commit()
        with UnitOfWork(make_session_factory(engine)) as uow:
            token = login(uow, CoreSettings(database_url=url), email="ops@x.test", password=PASSWORD, now=utc_now())
            uow.commit()
        return token.token
    finally:
        engine.dispose()


def test_eight_concurrent_writers_on_one_sqlite_file(data_home: DataHome, tmp_path: Path) -> None:
    url = data_home.database_url
    engine = make_engine(url)
    upgrade(engine)
    load_tables(engine, {"contacts": bare_contacts(SCORED_CONTACTS)})
    token = _admin_token(url)
    people = tmp_path / "people.csv"
    pl.DataFrame(
        {
            "first_name": [f"Imported{i}" for i in range(IMPORTED)],
            "last_name": ["Person"] * IMPORTED,
            "email": [f"imported{i}@example.org" for i in range(IMPORTED)],
        }
    ).write_csv(people)

    env = dict(data_home.env(), **{BARRIER: "1"})

    def start(*args: str) -> subprocess.Popen[str]:
        return subprocess.Popen(
            list(args), env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )

    module = [sys.executable, "-m"]
    processes = [start(*module, "tests.crash.api_editor", url, token, str(EDIT_SECONDS)) for _ in range(API_CLIENTS)]
    processes.append(start(*module, "tests.crash.importer", url, str(people)))
    processes.append(start(*module, "tests.crash.writer", url, "1", str(SCORED_CONTACTS), "2000"))
    for process in processes:  # all imported and connected: start together
        assert process.stdout is not None and process.stdout.readline().strip() == "ready"
    for process in processes:
        assert process.stdin is not None
        process.stdin.write("go\n")
        process.stdin.flush()
    outputs = [process.communicate(timeout=600) for process in processes]
    for process, (out, err) in zip(processes, outputs, strict=True):
        assert "database is locked" not in out + err, err[-2000:]
        assert process.returncode == 0, err[-2000:]
    edited = 0
    for out, _ in outputs[:API_CLIENTS]:
        report = json.loads(out.strip().splitlines()[-1])
        assert report["errors"] == [] and report["created"] > 0
        assert report["statuses"] == {"201": report["created"], "200": report["created"]}
        edited += report["created"]
    assert outputs[API_CLIENTS][0].strip() == f"created {IMPORTED}"

    with engine.connect() as connection:
        contacts = connection.execute(select(func.count()).select_from(Contact)).scalar_one()
        scores = connection.execute(select(func.count()).select_from(Prediction)).scalar_one()
    assert contacts == SCORED_CONTACTS + edited + IMPORTED
    assert scores == SCORED_CONTACTS
    with UnitOfWork(make_session_factory(engine)) as uow:
        assert verify_chain(uow).intact, "one chain, however the writers interleaved"
        order = {
            action: uow.session.scalars(select(AuditEvent.id).where(AuditEvent.action == action)).all()
            for action in ("contact.create", "contact.import", "prediction.write_back")
        }
    engine.dispose()
    # The audit ids are the commit order: the import and the write-back's chunks committed
    # between API edits, so the writers really did contend.
    edits, (imported,), chunks = order["contact.create"], order["contact.import"], order["prediction.write_back"]
    assert min(edits) < imported < max(edits)
    assert any(min(chunks) < edit < max(chunks) for edit in edits)
