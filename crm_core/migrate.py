"""Schema migrations, run programmatically so no alembic.ini has to sit in the working dir."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, create_engine, event

from crm_core.db import SQLITE_BUSY_TIMEOUT_MS

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def alembic_config(engine: Engine) -> Config:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.attributes["engine"] = engine
    return config


def _sqlite_migration_engine(url: Any) -> Engine:
    """SQLite needs two things for safe migrations that the app's engine must not have:

    foreign keys off while batch operations copy and drop a referenced table (they are checked
    again before commit), and a real BEGIN so DDL is transactional: Python's sqlite3 otherwise
    commits DDL as it goes, and a failed migration would leave half a schema behind.
    """
    engine = create_engine(url)

    @event.listens_for(engine, "connect")
    def _configure(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute("PRAGMA foreign_keys=OFF")
        dbapi_connection.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Bring the database at `engine` to `revision`; safe to call on an up-to-date database."""
    _migrate(engine, command.upgrade, revision)


def downgrade(engine: Engine, revision: str) -> None:
    """Step the database back to `revision` (an operator undoing a release)."""
    _migrate(engine, command.downgrade, revision)


def _migrate(engine: Engine, step: Callable[[Config, str], None], revision: str) -> None:
    if engine.dialect.name != "sqlite":
        step(alembic_config(engine), revision)
        return
    migration_engine = _sqlite_migration_engine(engine.url)
    try:
        step(alembic_config(migration_engine), revision)
    finally:
        migration_engine.dispose()
