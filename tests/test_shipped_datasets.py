"""The public data sets come in as a company's export would: shipped mapping files over the
generic importer, by `crm-intel import-dataset`, their models into the home's models.toml (then
`build-features` and `train` follow with nothing written for them: tests/training/
test_evaluation.py runs them). Counts are checked against the file read here with the csv
module, independently of the importer."""

from __future__ import annotations

import csv
import subprocess
from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm_core.db import make_engine
from crm_core.entities import Contact, CustomFieldDefinition
from tests.conftest import DataHome

pytestmark = [pytest.mark.realdata, pytest.mark.slow]

BANK_FILE = ("bank_marketing", "bank-additional-full.csv")


def _rows(path: Path, delimiter: str = ",") -> list[dict[str, str]]:
    with path.open(newline="") as handle:
        return list(csv.DictReader(handle, delimiter=delimiter))


def _words(done: subprocess.CompletedProcess[str]) -> str:
    """The command's output as one line of words: table borders and wrapping taken out."""
    return " ".join(done.stdout.replace("│", " ").split())


def test_bank_loads_by_its_mapping_file_once_in_call_order(tmp_path: Path, shared_datasets: Path) -> None:
    source = _rows(shared_datasets.joinpath(*BANK_FILE), delimiter=";")
    home = DataHome(tmp_path / "home")
    done = home.cli("import-dataset", "bank", "--data-dir", str(shared_datasets), cwd=tmp_path)
    shown = _words(done)
    assert done.returncode == 0, shown + done.stderr
    assert "new contacts 41,188" in shown and "rejected 0" in shown
    assert "models lead written to" in shown
    assert 'split = "record_order"' in (home.path / "models.toml").read_text()

    engine = make_engine(home.database_url)
    try:
        with engine.connect() as connection:
            stored = connection.execute(
                select(Contact.external_id, Contact.lifecycle_stage, Contact.custom).order_by(Contact.id)
            ).all()
            fields = connection.execute(select(func.count()).select_from(CustomFieldDefinition)).scalar_one()
    finally:
        engine.dispose()
    assert len(stored) == len(source) == 41_188 and fields == 20
    assert [row.external_id for row in stored[:3]] == ["bank-call-1", "bank-call-2", "bank-call-3"]
    assert {row.lifecycle_stage for row in stored} == {"lead"}
    assert sum(row.custom["subscribed"] for row in stored) == sum(row["y"] == "yes" for row in source)
    for row, record in zip(source[::997], stored[::997], strict=True):
        assert record.custom["age"] == int(row["age"]) and record.custom["job"] == row["job"]
        assert record.custom["euribor_3_month"] == pytest.approx(float(row["euribor3m"]))
        assert "duration" not in record.custom, "known only after the call: never brought in"

    again = home.cli("import-dataset", "bank", "--data-dir", str(shared_datasets), cwd=tmp_path)
    shown = _words(again)
    assert again.returncode == 0 and "new contacts 0" in shown and "unchanged 41,188" in shown
    assert "models lead already in" in shown

    other = DataHome(tmp_path / "other")
    other.path.mkdir()
    (other.path / "models.toml").write_text("# this company's own models\n")
    refused = other.cli("import-dataset", "bank", "--data-dir", str(shared_datasets), cwd=tmp_path)
    assert refused.returncode == 1 and "already defines this home's models" in _words(refused)
    missing = other.cli("import-dataset", "telco", "--data-dir", str(tmp_path), cwd=tmp_path)
    assert missing.returncode == 1 and "not found" in _words(missing) and "Traceback" not in missing.stderr
