"""Public shapes of CRM records (the `XPublic` side; create/update schemas come with the API)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from crm_core.protection.masking import disclose
from crm_core.schemas.common import CustomValues, UtcDateTime


class FactorChange(BaseModel):
    """One reason that moved between the previous score and this one."""

    model_config = ConfigDict(extra="forbid")

    feature: str
    description: str
    value_before: float | None
    value_now: float | None
    contribution_before: float | None
    contribution_now: float | None


class ScoreChange(BaseModel):
    """What changed since the last score: the score, the band, and the reasons that moved."""

    model_config = ConfigDict(extra="forbid")

    previous_score: float
    previous_band: str
    previous_version: str
    previous_scored_at: UtcDateTime
    factors: list[FactorChange]


class ScorePublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: str
    version: str
    score: float = Field(description="calibrated probability, 0-1")
    percent: int = Field(description="the score as a whole percentage, 0-100, as shown to users")
    band: str
    scored_at: UtcDateTime
    feature_timestamp: UtcDateTime
    top_factors: list[dict[str, Any]]
    change: ScoreChange | None = None


class ContactPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    external_id: str | None
    first_name: str
    last_name: str
    email: str | None = Field(description="masked or null for roles that may not see it")
    phone: str | None = Field(description="masked or null for roles that may not see it")
    address: str | None = Field(description="null for roles that may not see it")
    notes: str | None = Field(description="null for roles that may not see it")
    lifecycle_stage: str
    account_id: int | None
    owner_id: int | None
    created_at: UtcDateTime
    custom: CustomValues


def present_contact(contact: Any, role: str) -> ContactPublic:
    """The public shape of a contact row as `role` may see it: the only way contacts leave."""
    values = {name: getattr(contact, name) for name in ContactPublic.model_fields}
    return ContactPublic.model_validate(disclose("contact", values, role))


class UnscoredPublic(BaseModel):
    """A model that does not score this contact now, and why: the contact is outside the
    population it was trained on ("already lapsed", "not a lead")."""

    model_config = ConfigDict(extra="forbid", from_attributes=True)

    model: str = Field(validation_alias="model_name")
    state: str
    feature_timestamp: UtcDateTime
    decided_at: UtcDateTime


class ContactProfile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact: ContactPublic
    scores: list[ScorePublic]
    unscored: list[UnscoredPublic] = Field(default_factory=list)
