"""Segments (rule audiences and behaviour clusters) and their materialised members

Revision ID: 0009
Revises: 0008
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "segments",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.String(length=80), nullable=False),
        sa.Column("name", sa.String(length=120), nullable=False),
        sa.Column("kind", sa.String(length=20), nullable=False),
        sa.Column("description", sa.String(length=400), nullable=False),
        sa.Column("definition", sa.JSON(), nullable=False),
        sa.Column("created_at", sa.DateTime(), nullable=False),
        sa.Column("refreshed_at", sa.DateTime(), nullable=True),
        sa.Column("member_count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_segments")),
        sa.UniqueConstraint("key", name=op.f("uq_segments_key")),
    )
    op.create_table(
        "segment_members",
        sa.Column("segment_id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(["segment_id"], ["segments.id"], name=op.f("fk_segment_members_segment_id_segments")),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_segment_members_contact_id_contacts")),
        sa.PrimaryKeyConstraint("segment_id", "contact_id", name=op.f("pk_segment_members")),
    )
    op.create_index(op.f("ix_segment_members_contact_id"), "segment_members", ["contact_id"])


def downgrade() -> None:
    op.drop_index(op.f("ix_segment_members_contact_id"), table_name="segment_members")
    op.drop_table("segment_members")
    op.drop_table("segments")
