"""The customer 360: everything a rep needs on one record, in one response."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, ConfigDict

from crm_core.schemas.deals import DealPublic
from crm_core.schemas.profiles import ContactPublic, ScorePublic
from crm_core.schemas.records import AccountPublic


class ActivityPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    type: str
    channel: str
    occurred_at: datetime
    properties: dict[str, Any] | None


class TicketPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    channel: str
    priority: str
    status: str
    subject: str
    opened_at: datetime
    resolved_at: datetime | None
    satisfaction: int | None


class OrderPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    ordered_at: datetime
    status: str
    total: Decimal


class Customer360(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact: ContactPublic
    account: AccountPublic | None
    scores: list[ScorePublic]
    timeline: list[ActivityPublic]
    deals: list[DealPublic]
    tickets: list[TicketPublic]
    orders: list[OrderPublic]
