"""Opening a scratch CRM: a file under its own folder, read with the keys already loaded."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import inspect, select, text

from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Contact
from crm_core.opening import open_scratch_crm
from crm_core.protection import keyring
from crm_core.protection.keyring import FieldKeyError, FieldKeyring


def test_a_scratch_crm_ignores_the_configured_database_and_keeps_the_process_keys(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, field_keys: FieldKeyring
) -> None:
    live = tmp_path / "live.db"
    monkeypatch.setenv("CRM_DATABASE_URL", f"sqlite:///{live}")  # the CRM the process is configured for
    scratch_home = tmp_path / "evaluation" / "telco"

    engine = open_scratch_crm(scratch_home)
    try:
        assert engine.url.database == str((scratch_home / "crm.db").resolve())
        assert "contacts" in inspect(engine).get_table_names(), "the schema is migrated"
        assert not live.exists(), "the configured database was never touched"
        assert keyring.active() is field_keys and not (scratch_home / "keys").exists()
        with make_session_factory(engine)() as session, session.begin():
            session.add(
                Contact(
                    first_name="Ana",
                    last_name="Silva",
                    email="ana@example.com",
                    lifecycle_stage="lead",
                    created_at=utc_now(),
                )
            )
        with make_session_factory(engine)() as session:
            assert session.scalars(select(Contact.email)).one() == "ana@example.com"
        with engine.connect() as connection:
            stored = connection.execute(text("SELECT email FROM contacts")).scalar_one()
        assert stored.startswith(f"v1:{field_keys.primary_key_id}:"), "encrypted with the process's key"
    finally:
        engine.dispose()


def test_a_scratch_crm_needs_keys_loaded_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(keyring, "_active", None)
    with pytest.raises(FieldKeyError, match="not loaded"):
        open_scratch_crm(tmp_path / "scratch")
    assert not (tmp_path / "scratch").exists()
