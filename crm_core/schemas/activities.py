"""Activity events arriving from any channel, and the per-row outcome of a batch."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_core.entities import Channel
from crm_core.schemas.common import InUtc, NoNulInput, RecordId, StoredJson

MAX_BATCH = 1_000


class ActivityIn(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    contact_id: RecordId
    type: str = Field(min_length=1, max_length=40, pattern=r"^[a-z][a-z0-9_]*$")
    channel: Channel
    occurred_at: InUtc
    properties: StoredJson | None = None


class ActivityBatch(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    activities: list[dict[str, Any]] = Field(min_length=1, max_length=MAX_BATCH)

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        """Rows are checked one by one (as `ActivityIn`), so one bad row is rejected alone
        and the good rows beside it are kept; only the batch's shape is checked here."""
        return data


class RowProblem(BaseModel):
    index: int
    field: str
    reason: str


class BatchOutcome(BaseModel):
    inserted: int
    rejected: list[RowProblem]
