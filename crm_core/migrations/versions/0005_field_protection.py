"""Personal contact fields encrypted at rest, with a keyed lookup hash for email

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23

Existing rows are encrypted in place with the keyring the application installed before
upgrading; a CRM holding contacts cannot be upgraded without one.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from crm_core.normalise import normalise_email
from crm_core.protection import keyring

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

BATCH = 5_000


def upgrade() -> None:
    with op.batch_alter_table("contacts", schema=None) as batch_op:
        batch_op.drop_constraint("uq_contacts_email", type_="unique")
        batch_op.alter_column("email", type_=sa.Text(), existing_type=sa.String(length=320))
        batch_op.alter_column("phone", type_=sa.Text(), existing_type=sa.String(length=40))
        batch_op.add_column(sa.Column("email_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("address", sa.Text(), nullable=True))
        batch_op.add_column(sa.Column("notes", sa.Text(), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_contacts_email_hash"), ["email_hash"])
    _encrypt_existing_rows()


def _encrypt_existing_rows() -> None:
    connection = op.get_bind()
    contacts = sa.table("contacts", sa.column("id"), sa.column("email"), sa.column("phone"), sa.column("email_hash"))
    rows = connection.execute(
        sa.select(contacts.c.id, contacts.c.email, contacts.c.phone)
        .where(sa.or_(contacts.c.email.is_not(None), contacts.c.phone.is_not(None)))
        .order_by(contacts.c.id)
    ).all()
    if not rows:
        return
    keys = keyring.active()
    seen_hashes: set[str] = set()
    updates = []
    for contact_id, email, phone in rows:
        email_hash = None
        if email is not None:
            email_hash = keys.lookup_hash("email:" + normalise_email(email))
            # Emails that differed only in case were distinct before; the first keeps the lookup.
            email_hash = None if email_hash in seen_hashes else email_hash
            if email_hash is not None:
                seen_hashes.add(email_hash)
        updates.append(
            {
                "row_id": contact_id,
                "new_email": None if email is None else keys.encrypt(email, "contacts.email"),
                "new_phone": None if phone is None else keys.encrypt(phone, "contacts.phone"),
                "new_hash": email_hash,
            }
        )
    statement = (
        sa.update(contacts)
        .where(contacts.c.id == sa.bindparam("row_id"))
        .values(email=sa.bindparam("new_email"), phone=sa.bindparam("new_phone"), email_hash=sa.bindparam("new_hash"))
    )
    for start in range(0, len(updates), BATCH):
        connection.execute(statement, updates[start : start + BATCH])


def downgrade() -> None:
    raise NotImplementedError("decrypting personal data back into clear text is not offered")
