"""Shadow predictions: challengers' scores of the live population, kept off the records

Revision ID: 0010
Revises: 0009
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "shadow_predictions",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("model_name", sa.String(length=80), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("mlflow_run_id", sa.String(length=64), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=20), nullable=False),
        sa.Column("top_factors", sa.JSON(), nullable=False),
        sa.Column("feature_timestamp", sa.DateTime(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(
            ["contact_id"], ["contacts.id"], name=op.f("fk_shadow_predictions_contact_id_contacts")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_shadow_predictions")),
        sa.UniqueConstraint(
            "contact_id",
            "model_name",
            "model_version",
            "feature_timestamp",
            name=op.f("uq_shadow_predictions_identity"),
        ),
    )


def downgrade() -> None:
    op.drop_table("shadow_predictions")
