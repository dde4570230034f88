"""Our generic package names must resolve to this repository, not to an installed namesake."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


@pytest.mark.parametrize("package", ["crm_core", "features", "training", "models", "serving", "crm_intel"])
def test_package_resolves_to_our_folder(package: str) -> None:
    module = importlib.import_module(package)
    assert module.__file__ is not None
    assert Path(module.__file__).resolve().parent == ROOT / package


def test_importing_packages_does_no_io(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nothing happens at import: importing every module writes nothing to the working dir."""
    import subprocess
    import sys

    code = (
        "import crm_core.api, crm_core.demo, crm_core.services.predictions, features.pipeline, "
        "training.jobs, serving.batch, serving.online, crm_intel.cli"
    )
    subprocess.run([sys.executable, "-c", code], cwd=tmp_path, check=True)
    assert list(tmp_path.iterdir()) == []


OURS = ("crm_core", "features", "models", "training", "serving", "crm_intel")


def _readme_may_import() -> dict[str, set[str]]:
    """The README layout table's "may import" column, per package."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    table = text[text.index("## Layout") : text.index("## Tests")]
    rows = {}
    for line in table.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 3 and cells[0].strip("`") in OURS:
            allowed = cells[2]
            rows[cells[0].strip("`")] = (
                set(OURS) - {cells[0].strip("`")}
                if allowed == "all"
                else {name for name in OURS if f"`{name}`" in allowed}
            )
    return rows


def _contracts_allow() -> dict[str, set[str]]:
    """What the import-linter contracts let each package import: the layers below it, less
    what a forbidden contract takes away."""
    import tomllib

    config = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["tool"]["importlinter"]
    contracts = config["contracts"]
    (layers,) = [contract["layers"] for contract in contracts if contract["type"] == "layers"]
    levels = [[name.strip() for name in layer.split("|")] for layer in layers]
    allowed = {}
    for index, level in enumerate(levels):
        below = {name for lower in levels[index + 1 :] for name in lower}
        for package in level:
            allowed[package] = set(below)
    for contract in contracts:
        if contract["type"] == "forbidden":
            for source in contract["source_modules"]:
                allowed[source] -= set(contract["forbidden_modules"])
    return allowed


def test_the_readme_states_the_package_order_the_contracts_enforce() -> None:
    assert _readme_may_import() == _contracts_allow()
