"""A history of each contact's lifecycle stage and custom values

Revision ID: 0021
Revises: 0020
Create Date: 2026-12-07

A company says what churn or conversion means for it ("the stage becomes churned", "the plan
becomes paid"); labelling that point in time needs to know when each value changed, not only
what it is now.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0021"
down_revision = "0020"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "contact_changes",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=70), nullable=False),
        sa.Column("value", sa.String(length=1000), nullable=True),
        sa.Column("changed_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_contact_changes_contact_id_contacts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_contact_changes")),
    )
    op.create_index(op.f("ix_contact_changes_contact_id"), "contact_changes", ["contact_id"])
    op.create_index(op.f("ix_contact_changes_changed_at"), "contact_changes", ["changed_at"])
    # What each contact holds now becomes its first entry, dated when the contact was created
    # (custom values start their history with their next change). Spelled out here: a
    # migration keeps its own SQL, whatever the application's code becomes later.
    op.execute(
        "INSERT INTO contact_changes (contact_id, field, value, changed_at) "
        "SELECT id, 'lifecycle_stage', lifecycle_stage, created_at FROM contacts"
    )


def downgrade() -> None:
    op.drop_index(op.f("ix_contact_changes_changed_at"), table_name="contact_changes")
    op.drop_index(op.f("ix_contact_changes_contact_id"), table_name="contact_changes")
    op.drop_table("contact_changes")
