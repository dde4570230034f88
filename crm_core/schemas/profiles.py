"""Public shapes of CRM records (the `XPublic` side; create/update schemas come with the API)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import BaseModel, ConfigDict


class ScorePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    version: str
    score: float
    band: str
    scored_at: datetime
    feature_timestamp: datetime
    top_factors: list[dict[str, Any]]


class ContactPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    first_name: str
    last_name: str
    email: str | None
    phone: str | None
    lifecycle_stage: str
    account_id: int | None
    owner_id: int | None
    created_at: datetime


class ContactProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact: ContactPublic
    scores: list[ScorePublic]
