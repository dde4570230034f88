"""Custom field definition shapes."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from crm_core.entities import CustomFieldType
from crm_core.schemas.common import NoNulInput, UtcDateTime


class CustomFieldCreate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    entity: str = Field(pattern="^(contact|account|deal)$")
    name: str = Field(min_length=1, max_length=60, pattern=r"^[a-z][a-z0-9_]*$")
    label: str = Field(min_length=1, max_length=120)
    type: CustomFieldType
    choices: list[str] | None = Field(default=None, min_length=1, max_length=100)


class CustomFieldPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    entity: str
    name: str
    label: str
    type: CustomFieldType
    choices: list[str] | None
    created_at: UtcDateTime
