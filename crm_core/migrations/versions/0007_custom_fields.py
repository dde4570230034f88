"""Custom fields: definitions, and a JSON of values on contacts, accounts and deals

Revision ID: 0007
Revises: 0006
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

CARRIERS = ("contacts", "accounts", "deals")


def upgrade() -> None:
    op.create_table(
        "custom_field_definitions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("entity", sa.String(length=20), nullable=False),
        sa.Column("name", sa.String(length=60), nullable=False),
        sa.Column("label", sa.String(length=120), nullable=False),
        sa.Column("type", sa.String(length=20), nullable=False),
        sa.Column("choices", sa.JSON(), nullable=True),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_custom_field_definitions")),
        sa.UniqueConstraint("entity", "name", name="uq_custom_field_definitions_entity_name"),
    )
    for table in CARRIERS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.add_column(sa.Column("custom", sa.JSON(), nullable=True))


def downgrade() -> None:
    for table in CARRIERS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.drop_column("custom")
    op.drop_table("custom_field_definitions")
