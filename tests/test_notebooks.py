"""The data scientists' notebooks: stored without outputs, and executed top to bottom on a small
generated CRM so a change in the packages that breaks one fails the suite."""

from __future__ import annotations

from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient

pytestmark = pytest.mark.slow

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))
SMALL_CRM = "1500"


def test_there_are_notebooks_for_each_data_science_task() -> None:
    names = " ".join(path.stem for path in NOTEBOOKS)
    for topic in ("features", "retrain", "recommendations"):
        assert topic in names


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebooks_are_stored_without_outputs(path: Path) -> None:
    book = nbformat.read(path, as_version=4)
    for cell in book.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: strip outputs before committing"


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_NOTEBOOK_CONTACTS", SMALL_CRM)
    monkeypatch.setenv("TMPDIR", str(tmp_path))  # the workspace's scratch CRM lands in this test's folder
    monkeypatch.delenv("CRM_HOME", raising=False)
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [out for cell in book.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors
    last = next(cell for cell in reversed(book.cells) if cell.cell_type == "code")
    assert last.outputs, f"{path.name}: the last cell shows its result"
