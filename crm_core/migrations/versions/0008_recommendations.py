"""Product recommendations written back per contact, stamped with the recommender's version

Revision ID: 0008
Revises: 0007
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "recommendations",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("rank", sa.Integer(), nullable=False),
        sa.Column("score", sa.Float(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("model_name", sa.String(length=80), nullable=False),
        sa.Column("model_version", sa.String(length=40), nullable=False),
        sa.Column("mlflow_run_id", sa.String(length=64), nullable=False),
        sa.Column("data_timestamp", sa.DateTime(), nullable=False),
        sa.Column("written_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_recommendations_contact_id_contacts")),
        sa.ForeignKeyConstraint(["product_id"], ["products.id"], name=op.f("fk_recommendations_product_id_products")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_recommendations")),
        sa.UniqueConstraint(
            "contact_id",
            "model_name",
            "model_version",
            "data_timestamp",
            "product_id",
            name=op.f("uq_recommendations_identity"),
        ),
    )
    op.create_index(
        "ix_recommendations_contact_model_written", "recommendations", ["contact_id", "model_name", "written_at"]
    )


def downgrade() -> None:
    op.drop_index("ix_recommendations_contact_model_written", table_name="recommendations")
    op.drop_table("recommendations")
