"""The people and companies in the CRM, their consent and erasure, and custom fields."""

from __future__ import annotations

import enum
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    UniqueConstraint,
)
from sqlalchemy.orm import Mapped, mapped_column, relationship, validates

from crm_core.entities.base import EXTERNAL_ID_LENGTH, Base
from crm_core.protection.column_types import EncryptedText
from crm_core.protection.lookup import email_lookup, phone_lookup


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True, index=True)
    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(80))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Contact(Base):
    """A person. Email, phone, address and notes are personal data: stored encrypted, found by
    email through `email_hash` (a keyed hash kept in step by `_hash_email`), never in clear."""

    __tablename__ = "contacts"
    # An id is never handed out twice (SQLite would reuse an erased person's): audit events and
    # subject exports are found by contact id.
    __table_args__ = ({"sqlite_autoincrement": True},)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    external_id: Mapped[str | None] = mapped_column(String(EXTERNAL_ID_LENGTH), unique=True, index=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    first_name: Mapped[str] = mapped_column(String(100))
    last_name: Mapped[str] = mapped_column(String(100))
    email: Mapped[str | None] = mapped_column(EncryptedText("contacts.email"))
    email_hash: Mapped[str | None] = mapped_column(String(64), unique=True)
    phone: Mapped[str | None] = mapped_column(EncryptedText("contacts.phone"))
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    address: Mapped[str | None] = mapped_column(EncryptedText("contacts.address"))
    notes: Mapped[str | None] = mapped_column(EncryptedText("contacts.notes"))
    lifecycle_stage: Mapped[str] = mapped_column(String(40))
    created_at: Mapped[datetime] = mapped_column(DateTime)
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSON)

    account: Mapped[Account | None] = relationship()

    @validates("email")
    def _hash_email(self, _key: str, email: str | None) -> str | None:
        self.email_hash = email_lookup(email)
        return email

    @validates("phone")
    def _hash_phone(self, _key: str, phone: str | None) -> str | None:
        self.phone_hash = phone_lookup(phone)
        return phone


class ContactChange(Base):
    """A contact's lifecycle stage or a custom value as it became, and when: outcomes such as
    "became churned" or "plan became paid" are labelled from this, point in time. `field` is
    `lifecycle_stage` or `custom.<name>`; `value` the canonical text (null: the value was cleared)."""

    __tablename__ = "contact_changes"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    field: Mapped[str] = mapped_column(String(70))
    value: Mapped[str | None] = mapped_column(String(1000))
    changed_at: Mapped[datetime] = mapped_column(DateTime, index=True)


class ConsentStatus(enum.StrEnum):
    GRANTED = "granted"
    WITHDRAWN = "withdrawn"


class Consent(Base):
    """One consent decision of a contact for one channel. Rows are history: the newest per
    channel is the current state, and the trail shows when and where consent was given."""

    __tablename__ = "consents"
    __table_args__ = (Index("ix_consents_contact_channel_recorded", "contact_id", "channel", "recorded_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    channel: Mapped[str] = mapped_column(String(20))
    status: Mapped[str] = mapped_column(String(10))
    source: Mapped[str] = mapped_column(String(120))
    recorded_at: Mapped[datetime] = mapped_column(DateTime)


class Erasure(Base):
    """A person erased on request. Keeps only keyed hashes of their email and phone, so a later
    import of the same person is flagged without anything readable about them being kept."""

    __tablename__ = "erasures"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(Integer, index=True)
    email_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    phone_hash: Mapped[str | None] = mapped_column(String(64), index=True)
    erased_at: Mapped[datetime] = mapped_column(DateTime)
    reason: Mapped[str] = mapped_column(String(40))
    # Set once the person is also gone from feature snapshots and the online store.
    features_purged_at: Mapped[datetime | None] = mapped_column(DateTime)


class ErasureReason(enum.StrEnum):
    """Why a person was erased; a fixed list, so the register never holds free text about them."""

    SUBJECT_REQUEST = "subject_request"
    CONSENT_WITHDRAWN = "consent_withdrawn"
    RETENTION_EXPIRED = "retention_expired"
    LEGAL_OBLIGATION = "legal_obligation"


class CustomFieldType(enum.StrEnum):
    TEXT = "text"
    NUMBER = "number"
    INTEGER = "integer"
    BOOLEAN = "boolean"
    DATE = "date"
    CHOICE = "choice"


class CustomFieldDefinition(Base):
    """A field an organisation adds to contacts, accounts or deals. Values live in the record's
    `custom` JSON, checked against this definition on every write."""

    __tablename__ = "custom_field_definitions"
    __table_args__ = (UniqueConstraint("entity", "name", name="uq_custom_field_definitions_entity_name"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    entity: Mapped[str] = mapped_column(String(20))
    name: Mapped[str] = mapped_column(String(60))
    label: Mapped[str] = mapped_column(String(120))
    type: Mapped[str] = mapped_column(String(20))
    choices: Mapped[list[str] | None] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
