"""Ticket shapes: support cases on a contact, from any channel."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, Field

from crm_core.entities import Channel
from crm_core.schemas.common import EXTERNAL_ID, ExternalId, InUtc, NoNulInput, RecordId, UtcDateTime


class TicketPriority(enum.StrEnum):
    LOW = "low"
    NORMAL = "normal"
    HIGH = "high"
    URGENT = "urgent"


class TicketStatus(enum.StrEnum):
    OPEN = "open"
    PENDING = "pending"
    RESOLVED = "resolved"
    CLOSED = "closed"


# Statuses in which a ticket counts as done: entering one stamps resolved_at.
DONE_STATUSES = frozenset({TicketStatus.RESOLVED, TicketStatus.CLOSED})


class TicketCreate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = EXTERNAL_ID
    contact_id: RecordId
    channel: Channel
    subject: str = Field(min_length=1, max_length=200)
    priority: TicketPriority = TicketPriority.NORMAL
    opened_at: InUtc | None = Field(default=None, description="defaults to now; naive values are UTC")


class TicketUpdate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = EXTERNAL_ID
    subject: str | None = Field(default=None, min_length=1, max_length=200)
    priority: TicketPriority | None = None
    status: TicketStatus | None = None
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="1 (poor) to 5 (great)")


class TicketPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    external_id: str | None
    contact_id: int
    channel: str
    priority: str
    status: str
    subject: str
    opened_at: UtcDateTime
    resolved_at: UtcDateTime | None
    satisfaction: int | None
