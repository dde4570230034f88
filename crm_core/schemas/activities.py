"""Activity events arriving from any channel, and the per-row outcome of a batch."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crm_core.entities import Channel

MAX_BATCH = 1_000


class ActivityIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: int
    type: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    channel: Channel
    occurred_at: datetime
    properties: dict[str, Any] | None = None


class ActivityBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    activities: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class RowProblem(BaseModel):
    index: int
    field: str
    reason: str


class BatchOutcome(BaseModel):
    inserted: int
    rejected: list[RowProblem]
