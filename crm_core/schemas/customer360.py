"""The customer 360: everything a rep needs on one record, in one response."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict

from crm_core.schemas.catalogue import OrderPublic
from crm_core.schemas.common import UtcDateTime
from crm_core.schemas.deals import DealPublic
from crm_core.schemas.profiles import ContactPublic, ScorePublic, UnscoredPublic
from crm_core.schemas.recommendations import RecommendationPublic
from crm_core.schemas.records import AccountPublic
from crm_core.schemas.tickets import TicketPublic


class ActivityPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    type: str
    channel: str
    occurred_at: UtcDateTime
    properties: dict[str, Any] | None


class Customer360(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact: ContactPublic
    account: AccountPublic | None
    scores: list[ScorePublic]
    unscored: list[UnscoredPublic]
    timeline: list[ActivityPublic]
    deals: list[DealPublic]
    tickets: list[TicketPublic]
    orders: list[OrderPublic]
    recommendations: list[RecommendationPublic]
