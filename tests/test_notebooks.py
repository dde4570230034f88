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


@pytest.fixture(scope="module")
def scratch_crm(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One generated CRM the notebooks share, as a data scientist's would: built by the first."""
    return tmp_path_factory.mktemp("notebook-crm")


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebook_runs_top_to_bottom(
    path: Path, tmp_path: Path, scratch_crm: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CRM_NOTEBOOK_CONTACTS", SMALL_CRM)
    monkeypatch.setenv("CRM_NOTEBOOK_HOME", str(scratch_crm))
    monkeypatch.delenv("CRM_HOME", raising=False)
    # Kernel connection files and IPython's profile go to the test's folder, not the user's home.
    monkeypatch.setenv("JUPYTER_RUNTIME_DIR", str(tmp_path / "jupyter-runtime"))
    monkeypatch.setenv("IPYTHONDIR", str(tmp_path / "ipython"))
    book = nbformat.read(path, as_version=4)
    NotebookClient(book, timeout=600, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}}).execute()
    errors = [out for cell in book.cells for out in cell.get("outputs", []) if out.get("output_type") == "error"]
    assert not errors
    last = next(cell for cell in reversed(book.cells) if cell.cell_type == "code")
    assert last.outputs, f"{path.name}: the last cell shows its result"
