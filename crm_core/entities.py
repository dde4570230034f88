"""The CRM schema as typed SQLAlchemy 2 entities.

Timestamps are naive UTC throughout: SQLite has no time-zone type and mixing aware and naive
values is the classic way to shift a timeline by hours. Activities and predictions are
append-only by design: nothing in the services updates or deletes them.
"""

from __future__ import annotations

import enum
from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    UniqueConstraint,
    true,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from crm_core.protection.column_types import EncryptedText
from crm_core.protection.lookup import email_lookup, phone_lookup

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

MONEY = Numeric(14, 2)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


class Channel(enum.StrEnum):
    EMAIL = "email"
    PHONE = "phone"
    SMS = "sms"
    CHAT = "chat"
    SOCIAL = "social"
    WEB = "web"
    IN_PERSON = "in-person"


class DealStage(enum.StrEnum):
    """Pipeline stages; `ORDER` gives their position so reports and transitions can rank them."""

    PROSPECTING = "prospecting"
    QUALIFICATION = "qualification"
    PROPOSAL = "proposal"
    NEGOTIATION = "negotiation"
    CLOSED_WON = "closed_won"
    CLOSED_LOST = "closed_lost"


DEAL_STAGE_ORDER: dict[DealStage, int] = {
    DealStage.PROSPECTING: 1,
    DealStage.QUALIFICATION: 2,
    DealStage.PROPOSAL: 3,
    DealStage.NEGOTIATION: 4,
    DealStage.CLOSED_WON: 5,
    DealStage.CLOSED_LOST: 5,
}


class Team(Base):
    __tablename__ = "teams"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(120), unique=True)


class User(Base):
    """A person who signs in (or a service principal). No password hash: cannot log in."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    full_name: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(40))
    team_id: Mapped[int | None] = mapped_column(ForeignKey("teams.id"), index=True)
    password_hash: Mapped[str | None] = mapped_column(String(200))
    is_active: Mapped[bool] = mapped_column(Boolean, default=True, server_default=true())
    created_at: Mapped[datetime] = mapped_column(DateTime)


class ApiToken(Base):
    """A bearer token: a login session or a named integration token. Only its hash is kept."""

    __tablename__ = "api_tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    kind: Mapped[str] = mapped_column(String(20))  # session | integration
    name: Mapped[str] = mapped_column(String(120))
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    scopes: Mapped[list[str]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)
    revoked_at: Mapped[datetime | None] = mapped_column(DateTime)


class LoginAttempt(Base):
    """Failed and successful logins per email, for throttling password guessing."""

    __tablename__ = "login_attempts"
    __table_args__ = (Index("ix_login_attempts_email_at", "email", "at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    email: Mapped[str] = mapped_column(String(320))
    at: Mapped[datetime] = mapped_column(DateTime)
    succeeded: Mapped[bool] = mapped_column(Boolean)


class Account(Base):
    __tablename__ = "accounts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(200))
    industry: Mapped[str | None] = mapped_column(String(80))
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Contact(Base):
    """A person. Email, phone, address and notes are personal data: stored encrypted, found by
    email through `email_hash` (a keyed hash kept in step by `_hash_email`), never in clear."""

    __tablename__ = "contacts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
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


class Deal(Base):
    __tablename__ = "deals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    account_id: Mapped[int | None] = mapped_column(ForeignKey("accounts.id"), index=True)
    contact_id: Mapped[int | None] = mapped_column(ForeignKey("contacts.id"), index=True)
    owner_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    name: Mapped[str] = mapped_column(String(200))
    amount: Mapped[Decimal] = mapped_column(MONEY)
    stage: Mapped[str] = mapped_column(String(40))
    status: Mapped[str] = mapped_column(String(10))  # open | won | lost
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    closed_at: Mapped[datetime | None] = mapped_column(DateTime)
    custom: Mapped[dict[str, Any] | None] = mapped_column(JSON)


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


class DealStageChange(Base):
    __tablename__ = "deal_stage_history"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    deal_id: Mapped[int] = mapped_column(ForeignKey("deals.id"), index=True)
    from_stage: Mapped[str | None] = mapped_column(String(40))
    to_stage: Mapped[str] = mapped_column(String(40))
    changed_at: Mapped[datetime] = mapped_column(DateTime)


class Ticket(Base):
    __tablename__ = "tickets"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), index=True)
    channel: Mapped[str] = mapped_column(String(20))
    priority: Mapped[str] = mapped_column(String(10))
    status: Mapped[str] = mapped_column(String(20))
    subject: Mapped[str] = mapped_column(String(200))
    opened_at: Mapped[datetime] = mapped_column(DateTime)
    resolved_at: Mapped[datetime | None] = mapped_column(DateTime)
    satisfaction: Mapped[int | None] = mapped_column(Integer)


class Activity(Base):
    __tablename__ = "activities"
    __table_args__ = (Index("ix_activities_contact_occurred", "contact_id", "occurred_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    type: Mapped[str] = mapped_column(String(40))
    channel: Mapped[str] = mapped_column(String(20))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    properties: Mapped[dict[str, Any] | None] = mapped_column(JSON)


class Product(Base):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    category: Mapped[str] = mapped_column(String(80))
    unit_price: Mapped[Decimal] = mapped_column(MONEY)


class Order(Base):
    __tablename__ = "orders"
    __table_args__ = (Index("ix_orders_contact_ordered", "contact_id", "ordered_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    ordered_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(20))
    total: Mapped[Decimal] = mapped_column(MONEY)


class OrderLine(Base):
    __tablename__ = "order_lines"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), index=True)
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"), index=True)
    quantity: Mapped[int] = mapped_column(Integer)
    unit_price: Mapped[Decimal] = mapped_column(MONEY)


class ScoreColumns:
    """What every stored score holds: whose, by which model version, on which snapshot, why."""

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    model_name: Mapped[str] = mapped_column(String(80))
    model_version: Mapped[str] = mapped_column(String(40))
    mlflow_run_id: Mapped[str] = mapped_column(String(64))
    score: Mapped[float] = mapped_column(Float)
    band: Mapped[str] = mapped_column(String(20))
    top_factors: Mapped[list[dict[str, Any]]] = mapped_column(JSON)
    feature_timestamp: Mapped[datetime] = mapped_column(DateTime)
    scored_at: Mapped[datetime] = mapped_column(DateTime)


class Prediction(ScoreColumns, Base):
    """One immutable score of one contact by one model version on one feature snapshot.

    The unique key makes write-back idempotent: scoring the same contact again with the same
    model version and feature timestamp adds nothing.
    """

    __tablename__ = "predictions"
    __table_args__ = (
        UniqueConstraint(
            "contact_id",
            "model_name",
            "model_version",
            "feature_timestamp",
            name="uq_predictions_identity",
        ),
        Index("ix_predictions_contact_model_scored", "contact_id", "model_name", "scored_at"),
    )


class ShadowPrediction(ScoreColumns, Base):
    """A challenger's score, kept beside the champion's but never shown on a record: how the
    challenger would have scored the live population, for comparison before any promotion."""

    __tablename__ = "shadow_predictions"
    __table_args__ = (
        UniqueConstraint(
            "contact_id",
            "model_name",
            "model_version",
            "feature_timestamp",
            name="uq_shadow_predictions_identity",
        ),
    )


class WriteBackRun(Base):
    """Progress of one batch write-back (one model version scoring one feature snapshot),
    committed in the same transaction as each chunk of scores it counts.

    After a crash the rows written and the progress recorded therefore agree exactly, and the
    next run resumes after `last_contact_id` instead of starting over.
    """

    __tablename__ = "write_back_runs"
    __table_args__ = (
        UniqueConstraint("target", "model_name", "model_version", "feature_timestamp", name="uq_write_back_runs_key"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    target: Mapped[str] = mapped_column(String(40))  # the table written: predictions or shadow_predictions
    model_name: Mapped[str] = mapped_column(String(80))
    model_version: Mapped[str] = mapped_column(String(40))
    feature_timestamp: Mapped[datetime] = mapped_column(DateTime)
    total_rows: Mapped[int] = mapped_column(Integer)
    rows_done: Mapped[int] = mapped_column(Integer, default=0)
    inserted: Mapped[int] = mapped_column(Integer, default=0)
    chunks_done: Mapped[int] = mapped_column(Integer, default=0)
    last_contact_id: Mapped[int] = mapped_column(Integer, default=0)
    attempts: Mapped[int] = mapped_column(Integer, default=1)
    started_at: Mapped[datetime] = mapped_column(DateTime)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class ProductRecommendation(Base):
    """One product offered to one contact by one recommender version, with its rank and reason.

    Immutable like predictions: a new model version or a new data snapshot adds rows, and the
    unique key makes writing the same list twice a no-op.
    """

    __tablename__ = "recommendations"
    __table_args__ = (
        UniqueConstraint(
            "contact_id",
            "model_name",
            "model_version",
            "data_timestamp",
            "product_id",
            name="uq_recommendations_identity",
        ),
        Index("ix_recommendations_contact_model_written", "contact_id", "model_name", "written_at"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"))
    product_id: Mapped[int] = mapped_column(ForeignKey("products.id"))
    rank: Mapped[int] = mapped_column(Integer)
    score: Mapped[float] = mapped_column(Float)
    reason: Mapped[str] = mapped_column(String(40))
    model_name: Mapped[str] = mapped_column(String(80))
    model_version: Mapped[str] = mapped_column(String(40))
    mlflow_run_id: Mapped[str] = mapped_column(String(64))
    data_timestamp: Mapped[datetime] = mapped_column(DateTime)
    written_at: Mapped[datetime] = mapped_column(DateTime)


class Segment(Base):
    """An audience: a rule over scores and attributes (built by marketers) or a behaviour cluster
    (found by the models). Members are materialised, and refreshed after every scoring run."""

    __tablename__ = "segments"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    key: Mapped[str] = mapped_column(String(80), unique=True)
    name: Mapped[str] = mapped_column(String(120))
    kind: Mapped[str] = mapped_column(String(20))
    description: Mapped[str] = mapped_column(String(400))
    definition: Mapped[dict[str, Any]] = mapped_column(JSON)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    refreshed_at: Mapped[datetime | None] = mapped_column(DateTime)
    member_count: Mapped[int] = mapped_column(Integer, default=0)


class SegmentMember(Base):
    __tablename__ = "segment_members"

    segment_id: Mapped[int] = mapped_column(ForeignKey("segments.id"), primary_key=True)
    contact_id: Mapped[int] = mapped_column(ForeignKey("contacts.id"), primary_key=True, index=True)


class AuditEvent(Base):
    """One audited action. Rows form a hash chain: each `hash` covers the event and the
    previous event's hash, so editing or removing any row breaks verification after it."""

    __tablename__ = "audit_events"
    __table_args__ = (Index("ix_audit_events_entity", "entity", "entity_id"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    actor_user_id: Mapped[int | None] = mapped_column(Integer)
    actor_label: Mapped[str] = mapped_column(String(320))
    actor_role: Mapped[str] = mapped_column(String(40))
    action: Mapped[str] = mapped_column(String(60))
    entity: Mapped[str] = mapped_column(String(60))
    entity_id: Mapped[str | None] = mapped_column(String(64))
    changed_fields: Mapped[list[str]] = mapped_column(JSON)
    details: Mapped[dict[str, Any]] = mapped_column(JSON)
    request_id: Mapped[str | None] = mapped_column(String(64))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64), unique=True)


class AuditChainHead(Base):
    """A single row holding the chain's newest hash; appenders lock it to keep one chain."""

    __tablename__ = "audit_chain_head"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    last_event_id: Mapped[int] = mapped_column(Integer)
    last_hash: Mapped[str] = mapped_column(String(64))
