"""Where our code meets its dependencies and itself: no private Feast name is imported (beyond
the online layer still written in Feast's format, listed here until it is replaced), and no
product code runs our own command line as a subprocess."""

from __future__ import annotations

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("crm_core", "features", "training", "serving", "crm_intel")
# Feast modules that are its internals, whatever their names say.
FEAST_INTERNALS = ("feast.infra.online_stores.helpers", "feast.infra.key_encoding_utils")
# The online store is still written and read in Feast's own format; these go when it is ours.
STILL_IN_FEASTS_FORMAT = {"features/online_format.py", "features/erasure.py", "features/online_refresh.py"}


def _python_files() -> list[Path]:
    return [path for package in PRODUCT for path in (ROOT / package).rglob("*.py")]


def _private_feast_imports(path: Path) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("feast"):
            module = node.module or ""
            private = [alias.name for alias in node.names if alias.name.startswith("_")]
            if private or module.startswith(FEAST_INTERNALS) or any(part.startswith("_") for part in module.split(".")):
                found.append(f"{module}: {', '.join(alias.name for alias in node.names)}")
        elif isinstance(node, ast.Import):
            found.extend(alias.name for alias in node.names if alias.name.startswith(FEAST_INTERNALS))
    return found


def test_no_private_feast_name_is_imported_outside_the_online_layer_still_in_feasts_format() -> None:
    offenders = {
        str(path.relative_to(ROOT)): imports for path in _python_files() if (imports := _private_feast_imports(path))
    }
    assert set(offenders) <= STILL_IN_FEASTS_FORMAT, {
        name: imports for name, imports in offenders.items() if name not in STILL_IN_FEASTS_FORMAT
    }
    assert "features/registry_store.py" not in offenders, "the registry store is written on Feast's public interface"


def test_no_product_code_runs_our_command_line_as_a_subprocess() -> None:
    calls = []
    for path in _python_files():
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.Call) and any(
                isinstance(arg, ast.Constant) and arg.value in {"crm_intel.cli", "crm-intel"}
                for argument in node.args
                for arg in ast.walk(argument)
            ):
                calls.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert calls == [], "work runs through the application layer and the job queue, not a CLI subprocess"
