"""Backup and restore drills: a data home is lost and comes back from its backup, whole."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from sqlalchemy import select
from sqlalchemy.engine import make_url

from crm_core.backup import BackupError, dump_database, libpq_connection, table_counts
from crm_core.bulk_load import load_tables
from crm_core.db import make_session_factory
from crm_core.demo import DemoConfig, generate
from crm_core.entities import Contact
from crm_core.exports import export_crm
from crm_core.protection import keyring
from crm_core.services.audit import verify_chain
from crm_core.unit_of_work import UnitOfWork
from crm_intel.app.backup import MANIFEST, backup, read_verified_manifest, restore
from crm_intel.context import AppContext
from features.pipeline import build_and_publish
from serving.champion import load_champion
from tests.conftest import DataHome, app_context
from training.jobs import train

pytestmark = pytest.mark.slow


def _crm(home: Path, database_url: str) -> AppContext:
    ctx = app_context(home, keyring.active())  # the run's keys: every test starts with them
    ctx.core.database_url = database_url
    return ctx


def _people(ctx: AppContext) -> list[tuple[int, str, str | None]]:
    """Decrypted personal fields: a restore that lost its keys, or a byte, would not give them back."""
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        contacts = uow.session.scalars(select(Contact).order_by(Contact.id).limit(50)).all()
        return [(contact.id, contact.email or "", contact.phone) for contact in contacts]


def test_a_lost_home_comes_back_from_its_backup(
    tmp_path: Path, database_url: str, request: pytest.FixtureRequest
) -> None:
    home = tmp_path / "var"
    if database_url.startswith("sqlite"):
        database_url = f"sqlite:///{home / 'crm.db'}"  # the embedded default: inside the home
    ctx = _crm(home, database_url)
    load_tables(ctx.engine, generate(DemoConfig(contacts=1_500, seed=5)))
    build_and_publish(export_crm(ctx.engine), ctx.features)
    trained = train("churn", export_crm(ctx.engine), ctx.features, ctx.training)
    before_rows, before_people = table_counts(ctx.engine), _people(ctx)

    done = backup(ctx, tmp_path / "backups" / "first")
    assert done.crm_rows == before_rows and done.crm_rows["contacts"] == 1_500
    assert not done.keys_included and not (done.path / "home" / "keys").exists(), "keys stay out by default"

    # The disaster: the data home is gone and, on PostgreSQL, the whole schema with it.
    if not database_url.startswith("sqlite"):
        with ctx.engine.begin() as connection:
            connection.exec_driver_sql("DROP SCHEMA public CASCADE; CREATE SCHEMA public")
    ctx.engine.dispose()
    shutil.rmtree(home)
    fresh = _crm(home, database_url)

    restored = restore(fresh, done.path)
    request.addfinalizer(fresh.engine.dispose)  # no pooled connection outlives the test
    assert restored.crm_rows == before_rows
    assert _people(fresh) == before_people
    with UnitOfWork(make_session_factory(fresh.engine)) as uow:
        assert verify_chain(uow).intact, "the audit chain survives the round trip"
    champion = load_champion(fresh.registry, "churn")
    assert champion.version == trained.version, "the registry and its sealed artifacts are back"
    assert fresh.features.snapshot_path.is_file()

    with pytest.raises(BackupError, match="already holds contacts"):
        restore(_crm(home, database_url), done.path)
    assert restore(_crm(home, database_url), done.path, force=True).crm_rows == before_rows


def test_a_damaged_or_unfinished_backup_is_refused_before_anything_is_touched(tmp_path: Path) -> None:
    ctx = _crm(tmp_path / "var", f"sqlite:///{tmp_path / 'var' / 'crm.db'}")
    load_tables(ctx.engine, generate(DemoConfig(contacts=200, seed=2)))
    bundle = backup(ctx, tmp_path / "bundle").path
    ctx.engine.dispose()
    assert read_verified_manifest(bundle)["crm"]["rows"]["contacts"] == 200
    with pytest.raises(BackupError, match="already exists"):
        backup(ctx, bundle)

    dump = bundle / "crm.sqlite"
    original = dump.read_bytes()
    dump.write_bytes(original[:-1] + bytes([original[-1] ^ 1]))
    target = _crm(tmp_path / "other", f"sqlite:///{tmp_path / 'other' / 'crm.db'}")
    with pytest.raises(BackupError, match=r"crm\.sqlite does not match its sha256"):
        restore(target, bundle)
    assert not (tmp_path / "other" / "crm.db").exists(), "nothing restored from a damaged backup"

    dump.write_bytes(original)
    (bundle / MANIFEST).unlink()
    with pytest.raises(BackupError, match=r"no manifest\.json"):
        restore(target, bundle)


def test_backup_and_restore_commands(data_home: DataHome, tmp_path: Path) -> None:
    assert data_home.cli("demo-data", "--contacts", "120").returncode == 0
    bundle = tmp_path / "nightly"
    made = data_home.cli("backup", "--out", str(bundle))
    assert made.returncode == 0, made.stderr
    said = " ".join(made.stdout.split())  # the console wraps long lines
    assert "120 contacts" in said and "field keys are not in the backup" in said
    (data_home.path / "crm.db").unlink()
    back = data_home.cli("restore", str(bundle))
    assert back.returncode == 0, back.stderr
    assert "restored" in back.stdout and "120 contacts" in " ".join(back.stdout.split())
    again = data_home.cli("restore", str(bundle))
    assert again.returncode == 1 and "pass --force" in " ".join(again.stdout.split())


def test_the_database_password_travels_in_the_environment_not_the_command_line() -> None:
    """A command line is readable by every user of the machine (`ps`); pg_dump and pg_restore
    get the password through PGPASSWORD instead."""
    target, secret = libpq_connection("postgresql+psycopg://crm:s3cret-canary@db.internal:5433/crm?sslmode=require")
    assert "s3cret-canary" not in target and secret == {"PGPASSWORD": "s3cret-canary"}
    assert target.startswith("postgresql://crm@db.internal:5433/crm") and "sslmode=require" in target
    assert libpq_connection("postgresql+psycopg://crm@db/crm")[1] == {}, "no password, nothing added"


@pytest.mark.postgres
def test_a_dump_with_a_password_in_the_url_works_through_the_environment(postgres_url: str, tmp_path: Path) -> None:
    with_password = make_url(postgres_url).set(password="not-needed-with-trust-auth")
    dump = tmp_path / "crm.dump"
    dump_database(with_password.render_as_string(hide_password=False), dump)
    assert dump.stat().st_size > 0
