"""Ticket shapes: support cases on a contact, from any channel."""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from crm_core.entities import Channel


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


class TicketCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: int
    channel: Channel
    subject: str = Field(min_length=1, max_length=200)
    priority: TicketPriority = TicketPriority.NORMAL
    opened_at: datetime | None = Field(default=None, description="defaults to now; naive values are UTC")


class TicketUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    subject: str | None = Field(default=None, min_length=1, max_length=200)
    priority: TicketPriority | None = None
    status: TicketStatus | None = None
    satisfaction: int | None = Field(default=None, ge=1, le=5, description="1 (poor) to 5 (great)")


class TicketPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    contact_id: int
    channel: str
    priority: str
    status: str
    subject: str
    opened_at: datetime
    resolved_at: datetime | None
    satisfaction: int | None
