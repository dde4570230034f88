"""Opening the CRM: keys first, then the database, then its schema.

Every host (CLI, API service, tests) opens the CRM here, so none can read or write a personal
field before the field keys are in place.
"""

from __future__ import annotations

from sqlalchemy import Engine

from crm_core.db import make_engine
from crm_core.migrate import upgrade
from crm_core.protection import keyring
from crm_core.protection.keys import load_keyring
from crm_core.settings import CoreSettings


def open_crm(settings: CoreSettings, *, migrate: bool = True) -> Engine:
    keyring.install(load_keyring(settings))
    settings.home.resolve().mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url())
    if migrate:
        upgrade(engine)
    return engine
