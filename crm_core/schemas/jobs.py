"""What a job's requester sees of it: state, progress and result, never its parameters."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_core.clock import utc_now
from crm_core.schemas.common import UtcDateTime


class JobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")

    id: int
    kind: str = Field(description="what the job does, e.g. import_contacts")
    status: str = Field(description="queued, running, succeeded, failed or interrupted")
    requested_by_id: int | None
    scheduled_by: str | None = Field(default=None, description="the schedule that started it, when no person did")
    created_at: UtcDateTime
    started_at: UtcDateTime | None
    finished_at: UtcDateTime | None
    progress_done: int
    progress_total: int | None
    message: str = Field(description="what it is doing now, or why it failed")
    output: str = Field(description="the job's log so far (its last 12,000 characters)")
    seconds: float | None = Field(description="how long it ran (so far, while it runs)")
    result: dict[str, Any] | None = Field(description="the job's report once it has succeeded (an import's report)")

    @model_validator(mode="before")
    @classmethod
    def _duration(cls, data: Any) -> Any:
        """From a Job row: its duration, computed from when it started and ended."""
        if isinstance(data, dict) or not hasattr(data, "started_at"):
            return data
        fields = {name: getattr(data, name) for name in cls.model_fields if name != "seconds"}
        started, finished = data.started_at, data.finished_at or (utc_now() if data.started_at else None)
        fields["seconds"] = round((finished - started).total_seconds(), 3) if started and finished else None
        return fields
