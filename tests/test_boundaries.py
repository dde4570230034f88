"""Where our code meets its dependencies and itself: no private Feast name is imported anywhere
(the online store is ours, see `features.online`), only the registry adapter speaks MLflow or
spells its vocabulary, and no product code runs our own command line as a subprocess."""

from __future__ import annotations

import ast
from pathlib import Path

from features.model_registry import vocabulary

ROOT = Path(__file__).resolve().parents[1]
PRODUCT = ("crm_core", "features", "training", "serving", "crm_intel")
# Feast modules that are its internals, whatever their names say.
FEAST_INTERNALS = ("feast.infra.online_stores.helpers", "feast.infra.key_encoding_utils")


REGISTRY_ADAPTER = "features/model_registry/"
# Vocabulary values that are also ordinary words or CRM column names: flagged only where they
# key into what MLflow returns (`.tags`, `.params`, `.metrics`, `.aliases`), not everywhere.
EVERYDAY_WORDS = {"champion", "promoted", "reason", "promotion", "k", "true", "false", "data_timestamp"}
MLFLOW_RECORDS = {"tags", "params", "metrics", "aliases"}


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


def test_no_private_feast_name_is_imported() -> None:
    offenders = {
        str(path.relative_to(ROOT)): imports
        for path in [*_python_files(), *(ROOT / "benchmarks").rglob("*.py")]
        if (imports := _private_feast_imports(path))
    }
    assert offenders == {}


def test_the_private_feast_check_finds_what_it_is_for(tmp_path: Path) -> None:
    offending = tmp_path / "offending.py"
    offending.write_text(
        "from feast.infra.online_stores.helpers import compute_table_id\n"
        "from feast.utils import _utc_now\n"
        "from feast.infra._private import anything\n"
        "import feast.infra.key_encoding_utils\n"
        "from feast import FeatureStore\n"
    )
    assert len(_private_feast_imports(offending)) == 4


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


def _vocabulary() -> set[str]:
    return {value for name, value in vars(vocabulary).items() if name.isupper() and isinstance(value, str)}


def _keyed_into_mlflow_records(node: ast.AST) -> str | None:
    """The key of `x.tags["..."]` or `x.params.get("...")`, where x's record is MLflow's."""
    if isinstance(node, ast.Subscript):
        owner, key = node.value, node.slice
        if isinstance(owner, ast.Attribute) and owner.attr in MLFLOW_RECORDS and isinstance(key, ast.Constant):
            return str(key.value)
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == "get":
        owner = node.func.value
        if isinstance(owner, ast.Attribute) and owner.attr in MLFLOW_RECORDS and node.args:
            first = node.args[0]
            return str(first.value) if isinstance(first, ast.Constant) else None
    return None


def _mlflow_spoken(path: Path, words: set[str]) -> list[str]:
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import) and any(alias.name.split(".")[0] == "mlflow" for alias in node.names):
            found.append(f"{node.lineno}: imports mlflow")
        elif isinstance(node, ast.ImportFrom) and (node.module or "").split(".")[0] == "mlflow":
            found.append(f"{node.lineno}: imports from mlflow")
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in words - EVERYDAY_WORDS:
            found.append(f"{node.lineno}: spells {node.value!r}")
        elif (key := _keyed_into_mlflow_records(node)) is not None and key in words:
            found.append(f"{node.lineno}: reads {key!r} from an MLflow record")
    return found


def test_only_the_registry_adapter_imports_mlflow_or_spells_its_aliases_tags_and_metric_names() -> None:
    words = _vocabulary()
    assert {"champion", "champion_history", "holdout_", "drift_psi_max"} <= words, "the vocabulary was read"
    offenders = {
        relative: spoken
        for path in [*_python_files(), *(ROOT / "benchmarks").rglob("*.py")]
        if not (relative := str(path.relative_to(ROOT))).startswith(REGISTRY_ADAPTER)
        and (spoken := _mlflow_spoken(path, words))
    }
    assert offenders == {}


def test_the_vocabulary_check_finds_what_it_is_for(tmp_path: Path) -> None:
    """The check above, run on code that does each thing it forbids."""
    offending = tmp_path / "offending.py"
    offending.write_text(
        "import mlflow\n"
        "from mlflow import MlflowClient\n"
        "alias = 'champion_history'\n"
        "metric = f'holdout_{name}'\n"
        "verdict = version.tags['promoted']\n"
        "size = run.params.get('k')\n"
        "fine = {'reason': 'an ordinary word elsewhere'}\n"
    )
    spoken = _mlflow_spoken(offending, _vocabulary())
    assert sorted(int(line.split(":")[0]) for line in spoken) == [1, 2, 3, 4, 5, 6], spoken
