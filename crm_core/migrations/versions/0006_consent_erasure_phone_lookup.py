"""Consent history per channel, the erasure register, and a keyed phone lookup

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_core.normalise import normalise_phone
from crm_core.protection import keyring

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "consents",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("channel", sa.String(length=20), nullable=False),
        sa.Column("status", sa.String(length=10), nullable=False),
        sa.Column("source", sa.String(length=120), nullable=False),
        sa.Column("recorded_at", sa.DateTime(), nullable=False),
        sa.ForeignKeyConstraint(["contact_id"], ["contacts.id"], name=op.f("fk_consents_contact_id_contacts")),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_consents")),
    )
    op.create_index("ix_consents_contact_channel_recorded", "consents", ["contact_id", "channel", "recorded_at"])
    op.create_table(
        "erasures",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("contact_id", sa.Integer(), nullable=False),
        sa.Column("email_hash", sa.String(length=64), nullable=True),
        sa.Column("phone_hash", sa.String(length=64), nullable=True),
        sa.Column("erased_at", sa.DateTime(), nullable=False),
        sa.Column("reason", sa.String(length=40), nullable=False),
        sa.Column("features_purged_at", sa.DateTime(), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_erasures")),
    )
    op.create_index(op.f("ix_erasures_contact_id"), "erasures", ["contact_id"])
    op.create_index(op.f("ix_erasures_email_hash"), "erasures", ["email_hash"])
    op.create_index(op.f("ix_erasures_phone_hash"), "erasures", ["phone_hash"])
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.add_column(sa.Column("phone_hash", sa.String(length=64), nullable=True))
        batch_op.create_index(batch_op.f("ix_contacts_phone_hash"), ["phone_hash"], unique=False)
    _hash_existing_phones()


def _hash_existing_phones() -> None:
    connection = op.get_bind()
    contacts = sa.table("contacts", sa.column("id"), sa.column("phone"), sa.column("phone_hash"))
    rows = connection.execute(sa.select(contacts.c.id, contacts.c.phone).where(contacts.c.phone.is_not(None))).all()
    if not rows:
        return
    keys = keyring.active()
    updates = []
    for contact_id, token in rows:
        phone = keys.decrypt(token, "contacts.phone")
        try:
            normalised = normalise_phone(phone)
        except ValueError:
            continue  # stored, but not a number a lookup could match
        updates.append({"row_id": contact_id, "new_hash": keys.lookup_hash("phone:" + normalised)})
    statement = (
        sa.update(contacts).where(contacts.c.id == sa.bindparam("row_id")).values(phone_hash=sa.bindparam("new_hash"))
    )
    if updates:
        connection.execute(statement, updates)


def downgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_contacts_phone_hash"))
        batch_op.drop_column("phone_hash")
    op.drop_table("erasures")
    op.drop_table("consents")
