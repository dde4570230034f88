"""Contacts waiting to be rescored after a change: live scoring's outbox

Revision ID: 0023
Revises: 0022
Create Date: 2026-12-07

A write that changes a contact's features (an activity, an order, a ticket, a deal, the
contact itself) records the contact here in its own transaction; the worker recomputes its
features and scores from this table, so bursts of writes to one contact are one rescore.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0023"
down_revision = "0022"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "rescore_requests",
        sa.Column("contact_id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("requested_at", sa.DateTime(), nullable=False),
        sa.Column("claimed_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("contact_id", name=op.f("pk_rescore_requests")),
    )


def downgrade() -> None:
    op.drop_table("rescore_requests")
