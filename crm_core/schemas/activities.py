"""Activity events arriving from any channel, and the per-row outcome of a batch."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crm_core.entities import Channel
from crm_core.schemas.common import InUtc, NoNulInput, RecordId

MAX_BATCH = 1_000


class ActivityIn(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    contact_id: RecordId
    type: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    channel: Channel
    occurred_at: InUtc
    properties: dict[str, Any] | None = None


class ActivityBatch(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    activities: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)


class RowProblem(BaseModel):
    index: int
    field: str
    reason: str


class BatchOutcome(BaseModel):
    inserted: int
    rejected: list[RowProblem]
