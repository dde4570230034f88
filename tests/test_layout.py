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
