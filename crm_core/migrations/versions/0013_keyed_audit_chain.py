"""Keyed audit chain: events from now on are sealed with an HMAC whose key is not in the database

Revision ID: 0013
Revises: 0012
Create Date: 2026-12-06

Events already written keep their plain SHA-256 hashes; the cut-over id is sealed with the
keyed HMAC here, so it needs the home's keys (every host opens the CRM with its keys installed
before migrating).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_core.services.audit_seal import cut_over_seal

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("audit_chain_head", schema=None) as batch_op:
        batch_op.add_column(sa.Column("keyed_from_id", sa.Integer(), server_default="1", nullable=False))
        batch_op.add_column(sa.Column("keyed_from_seal", sa.String(length=64), nullable=True))
    connection = op.get_bind()
    last = connection.execute(sa.text("SELECT last_event_id FROM audit_chain_head WHERE id = 1")).scalar_one()
    keyed_from = int(last) + 1
    connection.execute(
        sa.text("UPDATE audit_chain_head SET keyed_from_id = :keyed_from, keyed_from_seal = :seal WHERE id = 1"),
        {"keyed_from": keyed_from, "seal": cut_over_seal(keyed_from)},
    )


def downgrade() -> None:
    with op.batch_alter_table("audit_chain_head", schema=None) as batch_op:
        batch_op.drop_column("keyed_from_seal")
        batch_op.drop_column("keyed_from_id")
