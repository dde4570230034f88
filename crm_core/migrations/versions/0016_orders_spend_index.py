"""Orders' contact index covers status and total, so spend over a period reads only the index

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-06
"""

from __future__ import annotations

from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.drop_index("ix_orders_contact_ordered", table_name="orders")
    op.create_index("ix_orders_contact_ordered", "orders", ["contact_id", "ordered_at", "status", "total"])


def downgrade() -> None:
    op.drop_index("ix_orders_contact_ordered", table_name="orders")
    op.create_index("ix_orders_contact_ordered", "orders", ["contact_id", "ordered_at"])
