"""Opening the CRM: keys first, then the database, then its schema.

Every host (CLI, API service, tests) opens the CRM here, so none can read or write a personal
field before the field keys are in place.
"""

from __future__ import annotations

import os
from pathlib import Path

from sqlalchemy import Engine

from crm_core.db import make_engine
from crm_core.migrate import upgrade
from crm_core.protection import keyring
from crm_core.protection.keys import load_keyring
from crm_core.settings import CoreSettings, embedded_database_url


def secure_home(home: Path) -> None:
    """Create the data home owner-only, and make an existing one so: with the folder closed to
    others, files an older release left world-readable inside it are out of their reach too."""
    resolved = home.resolve()
    resolved.mkdir(mode=0o700, parents=True, exist_ok=True)
    if resolved.stat().st_uid == os.getuid():
        resolved.chmod(0o700)


def install_keys(settings: CoreSettings) -> None:
    """Load the home's field keys (settings or key file) as the process's keyring."""
    keyring.install(load_keyring(settings))


def open_crm(settings: CoreSettings, *, migrate: bool = True, statement_timeout_seconds: float | None = None) -> Engine:
    """`statement_timeout_seconds`: the server's bound on any one query (batch jobs have none)."""
    install_keys(settings)
    return _open_database(
        settings.home,
        settings.resolved_database_url(),
        migrate=migrate,
        statement_timeout_seconds=statement_timeout_seconds,
    )


def _open_database(home: Path, url: str, *, migrate: bool, statement_timeout_seconds: float | None = None) -> Engine:
    secure_home(home)
    engine = make_engine(url, statement_timeout_seconds=statement_timeout_seconds)
    if migrate:
        upgrade(engine)
    return engine


def open_scratch_crm(home: Path) -> Engine:
    """A throwaway CRM under `home` (the real-data evaluation imports each data set into one).

    Always an embedded SQLite file there, whatever CRM_DATABASE_URL names: in production that
    is the live CRM, and public data sets must not land in it. It is read and written with the
    keys this process already holds, so opening it neither writes a key file nor swaps the
    process's keyring under the CRM that is open beside it.
    """
    keyring.active()  # a clear error, before any file is made, when no keys are loaded
    return _open_database(home, embedded_database_url(home), migrate=True)
