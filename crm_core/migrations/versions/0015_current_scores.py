"""Current scores: each contact's newest prediction per model, kept beside the history

Revision ID: 0015
Revises: 0014
Create Date: 2026-12-06
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0015"
down_revision = "0014"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "current_scores",
        sa.Column("model_name", sa.String(length=80), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("prediction_id", sa.Integer(), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("band", sa.String(length=20), nullable=False),
        sa.Column("feature_timestamp", sa.DateTime(), nullable=False),
        sa.Column("scored_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_current_scores_contact_id_contacts")),
        sa.ForeignKeyConstraint(
            ["prediction_id"],
            ["predictions.id"],
            name=op.f("fk_current_scores_prediction_id_predictions"),
            ondelete="CASCADE",
        ),
        sa.PrimaryKeyConstraint("model_name", "contact_id", name=op.f("pk_current_scores")),
    )
    op.create_index("ix_current_scores_model_band", "current_scores", ["model_name", "band", "contact_id"])
    # The history written so far, ranked once the way reads ranked it on every request.
    op.execute(
        """
        INSERT INTO current_scores
            (model_name, contact_id, prediction_id, model_version, score, band, feature_timestamp, scored_at)
        SELECT model_name, contact_id, id, model_version, score, band, feature_timestamp, scored_at
        FROM (
            SELECT *, row_number() OVER (
                PARTITION BY model_name, contact_id
                ORDER BY scored_at DESC, feature_timestamp DESC, id DESC
            ) AS position
            FROM predictions
        ) AS ranked
        WHERE position = 1
        """
    )


def downgrade() -> None:
    op.drop_index("ix_current_scores_model_band", table_name="current_scores")
    op.drop_table("current_scores")
