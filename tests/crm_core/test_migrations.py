from __future__ import annotations

from datetime import datetime

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect, text
from sqlalchemy.exc import DBAPIError, IntegrityError
from sqlalchemy.orm import Session

from crm_core.db import make_engine
from crm_core.entities import Base, Contact
from crm_core.migrate import alembic_config, downgrade, upgrade
from crm_core.protection.keyring import active
from crm_core.protection.lookup import email_lookup, phone_lookup


def test_migrations_create_every_table(engine: Engine) -> None:
    tables = set(inspect(engine).get_table_names())
    assert set(Base.metadata.tables) <= tables
    assert "alembic_version" in tables


def test_migrations_match_the_entities(engine: Engine) -> None:
    """A model change without a migration shows up here as a non-empty diff."""
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        differences = compare_metadata(context, Base.metadata)
    assert differences == []


def test_upgrade_is_safe_to_repeat(engine: Engine) -> None:
    upgrade(engine)
    upgrade(engine)
    assert "contacts" in inspect(engine).get_table_names()


def test_sqlite_pragmas_are_on(sqlite_engine: Engine) -> None:
    with sqlite_engine.connect() as connection:
        assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert connection.exec_driver_sql("PRAGMA busy_timeout").scalar() == 30_000


STORED_AT = datetime(2026, 1, 1).isoformat(sep=" ")


def test_an_existing_crm_with_data_upgrades_to_head(database_url: str) -> None:
    """Batch table rebuilds on SQLite must survive rows that reference the rebuilt table.

    The timestamp is bound as the ISO text SQLAlchemy itself stores: once Feast's SQLite online
    store is imported, a raw datetime handed to sqlite3 becomes epoch seconds (Feast registers a
    process-wide adapter), which no DateTime column can read back.
    """
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0002")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO users (id, email, full_name, role, created_at) "
                    "VALUES (1, 'a@b.c', 'A', 'sales_rep', :t)"
                ),
                {"t": STORED_AT},
            )
            connection.execute(
                text("INSERT INTO accounts (id, name, owner_id, created_at) VALUES (1, 'Acme', 1, :t)"),
                {"t": STORED_AT},
            )
            connection.execute(
                text(
                    "INSERT INTO contacts (id, first_name, last_name, email, phone, lifecycle_stage, created_at) "
                    "VALUES (1, 'Ada', 'L', 'Ada@Example.com', '+44 20 7946 0000', 'lead', :t)"
                ),
                {"t": STORED_AT},
            )
        upgrade(engine)
        with engine.connect() as connection:
            head = ScriptDirectory.from_config(alembic_config(engine)).get_current_head()
            assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar_one() == head
            assert connection.execute(text("SELECT email, is_active FROM users")).one() == ("a@b.c", True)
            assert connection.execute(text("SELECT owner_id FROM accounts")).scalar_one() == 1
            stored = connection.execute(text("SELECT email, phone, email_hash, phone_hash FROM contacts")).one()
            # A substring test on a short name flakes: "Ada" turns up in random base64 now and then.
            # The whole values hold "@", "+" and spaces, which url-safe base64 never does.
            assert "Ada@Example.com" not in stored.email, "existing personal data is encrypted"
            assert "+44 20 7946 0000" not in stored.phone, "existing personal data is encrypted"
            keyring = active()
            assert keyring.written_with_primary(stored.email) and keyring.written_with_primary(stored.phone)
            assert keyring.decrypt(stored.email, "contacts.email") == "Ada@Example.com"
            assert keyring.decrypt(stored.phone, "contacts.phone") == "+44 20 7946 0000"
            assert stored.email_hash == email_lookup("ada@example.com")
            assert stored.phone_hash == phone_lookup("+442079460000")
        with Session(engine) as session:
            contact = session.get_one(Contact, 1)
            assert (contact.email, contact.phone) == ("Ada@Example.com", "+44 20 7946 0000")
        with engine.connect() as connection:
            if engine.dialect.name == "sqlite":
                assert connection.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1, "the app's engine keeps FKs on"
    finally:
        engine.dispose()


def test_external_ids_arrive_without_rebuilding_guarded_tables(database_url: str) -> None:
    """0020 adds `external_id` to seven tables and widens line quantities to decimals: the rows
    already there keep their values, activities stay append-only, and it steps back down."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0019")
        with engine.begin() as connection:
            connection.execute(
                text(
                    "INSERT INTO contacts (id, first_name, last_name, lifecycle_stage, created_at) "
                    "VALUES (1, 'Ada', 'L', 'lead', :t)"
                ),
                {"t": STORED_AT},
            )
            connection.execute(
                text("INSERT INTO products (id, sku, name, category, unit_price) VALUES (1, 'S1', 'Tea', 'food', 2.5)")
            )
            connection.execute(
                text("INSERT INTO orders (id, contact_id, ordered_at, status, total) VALUES (1, 1, :t, 'placed', 5)"),
                {"t": STORED_AT},
            )
            connection.execute(
                text("INSERT INTO order_lines (order_id, product_id, quantity, unit_price) VALUES (1, 1, 2, 2.5)")
            )
            connection.execute(
                text("INSERT INTO activities (contact_id, type, channel, occurred_at) VALUES (1, 'call', 'phone', :t)"),
                {"t": STORED_AT},
            )
        upgrade(engine)
        with engine.begin() as connection:
            assert connection.execute(text("SELECT quantity FROM order_lines")).scalar_one() == 2
            connection.execute(text("UPDATE contacts SET external_id = 'C-1'"))
            connection.execute(
                text("INSERT INTO order_lines (order_id, product_id, quantity, unit_price) VALUES (1, 1, 1.25, 2)")
            )
        with engine.connect() as connection:
            quantities = connection.execute(text("SELECT quantity FROM order_lines ORDER BY id")).scalars().all()
            assert [float(q) for q in quantities] == [2.0, 1.25]
            with pytest.raises(DBAPIError, match="append-only"):
                connection.execute(text("UPDATE activities SET external_id = 'A-1'"))
            connection.rollback()
            with pytest.raises(IntegrityError):
                connection.execute(
                    text(
                        "INSERT INTO contacts (first_name, last_name, lifecycle_stage, created_at, external_id) "
                        "VALUES ('B', 'L', 'lead', :t, 'C-1')"
                    ),
                    {"t": STORED_AT},
                )
        downgrade(engine, "0019")
        assert "external_id" not in {column["name"] for column in inspect(engine).get_columns("contacts")}
        upgrade(engine)
        assert "external_id" in {column["name"] for column in inspect(engine).get_columns("activities")}
    finally:
        engine.dispose()


def test_the_stage_history_starts_from_what_each_contact_holds(database_url: str) -> None:
    """0021 adds the contact history; every stored contact's stage becomes its first entry,
    dated when the contact was created, and it steps back down."""
    engine = make_engine(database_url)
    try:
        upgrade(engine, "0020")
        with engine.begin() as connection:
            for number, stage in ((1, "lead"), (2, "churned")):
                connection.execute(
                    text(
                        "INSERT INTO contacts (id, first_name, last_name, lifecycle_stage, created_at) "
                        "VALUES (:id, 'Ada', 'L', :stage, :t)"
                    ),
                    {"id": number, "stage": stage, "t": STORED_AT},
                )
        upgrade(engine)
        with engine.connect() as connection:
            history = connection.execute(
                text("SELECT contact_id, field, value, changed_at FROM contact_changes ORDER BY contact_id")
            ).all()
        stages = [tuple(row)[:3] for row in history]
        assert stages == [(1, "lifecycle_stage", "lead"), (2, "lifecycle_stage", "churned")]
        assert {str(row[3])[:19] for row in history} == {str(STORED_AT)[:19]}
        downgrade(engine, "0020")
        assert "contact_changes" not in inspect(engine).get_table_names()
    finally:
        engine.dispose()
