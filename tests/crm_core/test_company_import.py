"""A company brings its whole history from files alone (issue 21): nine record kinds, each with
its own ids, column names, date and number forms said in a mapping file, about 2% of rows
broken in five ways. Every good record loads, every broken row is named with the field at
fault, and importing everything again adds and changes nothing."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, func, select

from crm_core.db import make_engine
from crm_core.entities import (
    Account,
    Activity,
    Base,
    Consent,
    Contact,
    Deal,
    DealStageChange,
    Order,
    Product,
    Ticket,
)
from tests.conftest import DataHome
from tests.support.company_files import CompanyFiles, write_company

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
    "bad date": {"created_at", "ordered_at", "occurred_at", "opened_at", "recorded_at"},
    "bad amount": {"unit_price", "quantity", "amount"},
    "future date": {"ordered_at", "occurred_at", "opened_at", "recorded_at"},
    "missing required": {"name", "type", "subject"},
}


def _counts(engine: Engine) -> dict[str, int]:
    with engine.connect() as connection:
        counted = {
            kind: int(connection.execute(select(func.count()).select_from(model)).scalar_one())
            for kind, model in TABLE_OF.items()
        }
        counted["deal_stage_history"] = int(
            connection.execute(select(func.count()).select_from(DealStageChange)).scalar_one()
        )
    return counted


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

    problems_files = {path.name.split("-")[0]: path for path in (home.path / "imports").glob("*-problems.csv")}
    for kind, broken in company.broken.items():
        if not broken:
            continue
        problems = pl.read_csv(problems_files[kind], infer_schema=False)
        named = {int(row): field for row, field in problems.select("row", "field").iter_rows()}
        for row, breakage in broken.items():
            assert named.get(row) in FIELD_OF_BREAKAGE[breakage], (kind, row, breakage, named.get(row))

    again = _import_all(home, company, tmp_path)
    assert again == codes
    engine = make_engine(home.database_url)
    try:
        assert _counts(engine) == loaded, "a second import of every file adds and changes nothing"
    finally:
        engine.dispose()
