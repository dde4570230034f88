"""External ids on every record kind, and order line quantities as decimals

Revision ID: 0020
Revises: 0019
Create Date: 2026-12-07

A company's own history comes in by file: each record may keep its id from the system it came
from (unique per kind), so a re-import matches instead of duplicating and an order can name its
customer by the customer's own id. Quantities become decimals (a weight, a zero-quantity line).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0020"
down_revision = "0019"
branch_labels = None
depends_on = None

TABLES = ("accounts", "contacts", "deals", "tickets", "activities", "products", "orders")


def upgrade() -> None:
    for table in TABLES:
        # A plain ADD COLUMN: no table rebuild, so SQLite's append-only triggers and
        # AUTOINCREMENT stay as they are.
        op.add_column(table, sa.Column("external_id", sa.String(length=120), nullable=True))
        op.create_index(f"ix_{table}_external_id", table, ["external_id"], unique=True)
    with op.batch_alter_table("order_lines") as batch:
        batch.alter_column("quantity", existing_type=sa.Integer(), type_=sa.Numeric(12, 3), existing_nullable=False)


def downgrade() -> None:
    with op.batch_alter_table("order_lines") as batch:
        batch.alter_column("quantity", existing_type=sa.Numeric(12, 3), type_=sa.Integer(), existing_nullable=False)
    for table in reversed(TABLES):
        op.drop_index(f"ix_{table}_external_id", table_name=table)
        # SQLite (3.35+) drops a column in place: no rebuild, as on the way up.
        op.drop_column(table, "external_id")
