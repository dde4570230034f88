"""Why a model does not score a contact: its population state

Revision ID: 0022
Revises: 0021
Create Date: 2026-12-07

A model scores only the contacts of its population (the kind it was trained on); a contact
outside it (a customer who already lapsed, a contact with nothing open) is shown a stated
reason instead of a score, and leaves the lists and segments built on that model's scores.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0022"
down_revision = "0021"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "population_states",
        sa.Column("model_name", sa.String(length=80), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("state", sa.String(length=120), nullable=False),
        sa.Column("feature_timestamp", sa.DateTime(), nullable=False),
        sa.Column("decided_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_population_states_contact_id_contacts")),
        sa.PrimaryKeyConstraint("model_name", "contact_id", name=op.f("pk_population_states")),
    )
    op.create_index(op.f("ix_population_states_contact_id"), "population_states", ["contact_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_population_states_contact_id"), table_name="population_states")
    op.drop_table("population_states")
