"""Contact ids are never reused: SQLite AUTOINCREMENT on contacts, started past every erased id

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-06

SQLite's plain INTEGER PRIMARY KEY hands the highest deleted id to the next insert: the next
person created after an erasure inherited the erased person's audit trail and pending purge.
PostgreSQL's sequences never hand an id out twice, so only SQLite changes.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None


def upgrade() -> None:
    connection = op.get_bind()
    if connection.dialect.name != "sqlite":
        return
    with op.batch_alter_table("contacts", recreate="always", table_kwargs={"sqlite_autoincrement": True}):
        pass
    highest = connection.execute(
        sa.text(
            "SELECT MAX(id) FROM (SELECT MAX(id) AS id FROM contacts UNION ALL SELECT MAX(contact_id) FROM erasures)"
        )
    ).scalar()
    if highest:
        connection.execute(sa.text("DELETE FROM sqlite_sequence WHERE name = 'contacts'"))
        connection.execute(
            sa.text("INSERT INTO sqlite_sequence (name, seq) VALUES ('contacts', :seq)"), {"seq": int(highest)}
        )


def downgrade() -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table("contacts", recreate="always", table_kwargs={"sqlite_autoincrement": False}):
        pass
