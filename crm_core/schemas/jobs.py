"""What a job's requester sees of it: state, progress and result, never its parameters."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class JobPublic(BaseModel):
    model_config = ConfigDict(from_attributes=True, extra="forbid")

    id: int
    kind: str = Field(description="what the job does, e.g. import_contacts")
    status: str = Field(description="queued, running, succeeded, failed or interrupted")
    requested_by_id: int | None
    created_at: datetime
    started_at: datetime | None
    finished_at: datetime | None
    progress_done: int
    progress_total: int | None
    message: str = Field(description="what it is doing now, or why it failed")
    result: dict[str, Any] | None = Field(description="the job's report once it has succeeded (an import's report)")
