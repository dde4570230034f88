"""Consent shapes: a decision per channel, with where it came from."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from crm_core.entities import Channel, ConsentStatus
from crm_core.schemas.common import NoNulInput, UtcDateTime


class ConsentChange(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    status: ConsentStatus
    source: str = Field(min_length=1, max_length=120, description="where consent was given, e.g. 'web form'")


class ConsentPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    channel: Channel
    status: ConsentStatus
    source: str
    recorded_at: UtcDateTime
