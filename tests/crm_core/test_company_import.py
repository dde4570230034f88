"""A company brings its whole history from files alone (issue 21): ten record kinds, its
contacts' stage history among them, each with its own ids, column names, date and number forms
said in a mapping file, about 2% of rows broken in five ways. Every good record loads through
the CLI, every broken row is named with the field at fault, and importing everything again (in
process, through the same functions) adds and changes nothing."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_engine, make_session_factory
from crm_core.entities import (
    Account,
    Activity,
    Base,
    Consent,
    Contact,
    ContactChange,
    Deal,
    DealStageChange,
    Order,
    Product,
    Ticket,
)
from crm_core.imports.bulk_records import import_records
from crm_core.imports.contacts import import_contacts
from crm_core.imports.mapping_files import read_mapping_file
from crm_core.imports.reading import read_table
from crm_core.imports.record_kinds import RECORD_KINDS
from crm_core.unit_of_work import UnitOfWork
from tests.conftest import DataHome
from tests.support.company_files import CompanyFiles, write_company

IMPORTER = Principal.system(Role.ADMIN, "company import test")
TABLE_OF: dict[str, type[Base]] = {
    "accounts": Account,
    "contacts": Contact,
    "products": Product,
    "orders": Order,
    "activities": Activity,
    "deals": Deal,
    "tickets": Ticket,
    "consents": Consent,
}
FIELD_OF_BREAKAGE = {
    "unknown reference": {"contact"},
    "bad date": {"created_at", "ordered_at", "occurred_at", "opened_at", "recorded_at", "changed_at"},
    "bad amount": {"unit_price", "quantity", "amount"},
    "future date": {"ordered_at", "occurred_at", "opened_at", "recorded_at", "changed_at"},
    "missing required": {"name", "type", "subject", "field"},
}


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        counted = {
            kind: int(connection.execute(select(func.count()).select_from(model)).scalar_one())
            for kind, model in TABLE_OF.items()
        }
        for name, model in (("deal_stage_history", DealStageChange), ("contact_history", ContactChange)):
            counted[name] = int(connection.execute(select(func.count()).select_from(model)).scalar_one())
    return counted


def _reimport_in_process(engine: Engine, company: CompanyFiles) -> dict[str, tuple[int, int]]:
    """The same files through the same import functions the CLI calls, without a process per
    file: kind -> (records inserted, rows refused)."""
    outcome = {}
    for kind in company.order:
        described = read_mapping_file(company.mapping(kind))
        frame = read_table(company.file(kind))
        with UnitOfWork(make_session_factory(engine)) as uow:
            if kind == "contacts":
                report = import_contacts(uow, IMPORTER, frame, mapping=described.columns, source=kind, now=utc_now())
            else:
                report = import_records(
                    uow, IMPORTER, RECORD_KINDS[kind], frame, mapping=described.mapping(), source=kind, now=utc_now()
                )
            uow.commit()
        outcome[kind] = (report.inserted + report.merged, len({problem.row for problem in report.rejected}))
    return outcome


def _import_all(home: DataHome, company: CompanyFiles, cwd: Path) -> dict[str, int]:
    codes = {}
    for kind in company.order:
        done = home.cli("import", kind, str(company.file(kind)), "--mapping", str(company.mapping(kind)), cwd=cwd)
        assert "Traceback" not in done.stdout + done.stderr, done.stderr
        codes[kind] = done.returncode
    return codes


@pytest.mark.slow
def test_a_company_brings_every_record_kind_from_files_and_a_reimport_changes_nothing(tmp_path: Path) -> None:
    company = write_company(tmp_path / "export")
    home = DataHome(tmp_path / "home")
    codes = _import_all(home, company, tmp_path)
    assert codes == {kind: (3 if company.broken[kind] else 0) for kind in company.order}

    engine = make_engine(home.database_url)
    try:
        loaded = _counts(engine)
    finally:
        engine.dispose()
    for kind, model_count in loaded.items():
        if kind in company.expected:
            assert model_count == company.expected[kind], kind
    moves = company.expected["deal_stages"]
    assert loaded["deal_stage_history"] == company.expected["deals"] + moves
    # Each contact's history starts with the stage it came in with; the file's changes follow.
    assert loaded["contact_history"] == company.expected["contacts"] + company.expected["contact_changes"]

    problems_files = {path.name.split("-")[0]: path for path in (home.path / "imports").glob("*-problems.csv")}
    for kind, broken in company.broken.items():
        if not broken:
            continue
        problems = pl.read_csv(problems_files[kind], infer_schema=False)
        named = {int(row): field for row, field in problems.select("row", "field").iter_rows()}
        for row, breakage in broken.items():
            assert named.get(row) in FIELD_OF_BREAKAGE[breakage], (kind, row, breakage, named.get(row))

    engine = make_engine(home.database_url)
    try:
        again = _reimport_in_process(engine, company)
        assert {kind: inserted for kind, (inserted, _refused) in again.items()} == dict.fromkeys(company.order, 0)
        assert all(refused >= len(company.broken[kind]) for kind, (_inserted, refused) in again.items())
        assert _counts(engine) == loaded, "a second import of every file adds and changes nothing"
    finally:
        engine.dispose()
