"""User shapes for administration. Password hashes never leave the service layer."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from crm_core.auth.policy import Role
from crm_core.schemas.common import NoNulInput, UtcDateTime


class UserCreate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    email: EmailStr
    full_name: str = Field(min_length=1, max_length=200)
    role: Role
    team: str | None = Field(default=None, min_length=1, max_length=120)
    password: str | None = Field(default=None, min_length=12, max_length=1024, description="omit: cannot sign in yet")


class UserUpdate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    full_name: str | None = Field(default=None, min_length=1, max_length=200)
    role: Role | None = None
    team: str | None = Field(default=None, min_length=1, max_length=120)
    is_active: bool | None = None


class UserPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    email: str
    full_name: str
    role: str
    team_id: int | None
    is_active: bool
    created_at: UtcDateTime
