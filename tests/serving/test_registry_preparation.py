"""The server prepares the MLflow registry before its workers start, so none of them migrates it."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from features.model_registry import ModelRegistry

# What a starting worker does to the registry: open both stores (`ModelRegistry.prepare` opens them).
OPEN_REGISTRY = "import sys; from features.model_registry import ModelRegistry; ModelRegistry(sys.argv[1]).prepare()"


def _tables(database: Path) -> set[str]:
    with sqlite3.connect(database) as connection:
        return {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}


def test_a_prepared_registry_is_opened_by_two_workers_at_once_without_migrating(tmp_path: Path) -> None:
    database = tmp_path / "mlflow.db"
    uri = f"sqlite:///{database}"
    ModelRegistry(uri).prepare()
    tables = _tables(database)
    assert {"experiments", "runs", "registered_models", "model_versions", "alembic_version"} <= tables
    with sqlite3.connect(database) as connection:
        head = connection.execute("SELECT version_num FROM alembic_version").fetchall()

    workers = [
        subprocess.Popen([sys.executable, "-c", OPEN_REGISTRY, uri], stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    errors = [worker.communicate(timeout=120)[1] for worker in workers]
    assert [worker.returncode for worker in workers] == [0, 0], errors
    assert not any(name.startswith("_alembic_tmp") for name in _tables(database)), "no worker migrated"
    with sqlite3.connect(database) as connection:
        assert connection.execute("SELECT version_num FROM alembic_version").fetchall() == head

    ModelRegistry(uri).prepare()  # a second start finds it current and changes nothing
    assert _tables(database) == tables
