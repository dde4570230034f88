"""Refuse UPDATE on the append-only tables (activities, predictions) in the database itself

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23

The services never update these rows; the triggers make that a property of the data, so no
script, console session or future bug can rewrite history or a stamped score. Deletes stay
possible: erasing a person must remove their rows.
"""

from __future__ import annotations

from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

APPEND_ONLY_TABLES = ("activities", "predictions")


def upgrade() -> None:
    dialect = op.get_bind().dialect.name
    if dialect == "postgresql":
        op.execute(
            """
            CREATE FUNCTION crm_refuse_update() RETURNS trigger AS $$
            BEGIN
                RAISE EXCEPTION '% rows are append-only: updates are refused', TG_TABLE_NAME;
            END
            $$ LANGUAGE plpgsql
            """
        )
    for table in APPEND_ONLY_TABLES:
        if dialect == "postgresql":
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION crm_refuse_update()"
            )
        elif dialect == "sqlite":
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE ON {table} "
                f"BEGIN SELECT RAISE(ABORT, '{table} rows are append-only: updates are refused'); END"
            )
        else:
            raise NotImplementedError(f"append-only guards are not written for {dialect}")


def downgrade() -> None:
    dialect = op.get_bind().dialect.name
    for table in APPEND_ONLY_TABLES:
        if dialect == "postgresql":
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only ON {table}")
        else:
            op.execute(f"DROP TRIGGER IF EXISTS {table}_append_only")
    if dialect == "postgresql":
        op.execute("DROP FUNCTION IF EXISTS crm_refuse_update()")
