"""Create / update / public shapes for contacts and accounts."""

from __future__ import annotations

import enum
from datetime import datetime

from pydantic import BaseModel, ConfigDict, EmailStr, Field

NAME = Field(min_length=1, max_length=100)


class LifecycleStage(enum.StrEnum):
    LEAD = "lead"
    CUSTOMER = "customer"
    CHURNED = "churned"


class ContactCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str = NAME
    last_name: str = NAME
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 ()-]{5,40}$")
    address: str | None = Field(default=None, max_length=500)
    notes: str | None = Field(default=None, max_length=5000)
    lifecycle_stage: LifecycleStage = LifecycleStage.LEAD
    account_id: int | None = None
    owner_id: int | None = Field(default=None, description="defaults to the caller")


class ContactUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 ()-]{5,40}$")
    address: str | None = Field(default=None, max_length=500)
    notes: str | None = Field(default=None, max_length=5000)
    lifecycle_stage: LifecycleStage | None = None
    account_id: int | None = None
    owner_id: int | None = None


class AccountCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200)
    industry: str | None = Field(default=None, max_length=80)
    owner_id: int | None = Field(default=None, description="defaults to the caller")


class AccountUpdate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    industry: str | None = Field(default=None, max_length=80)
    owner_id: int | None = None


class AccountPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    name: str
    industry: str | None
    owner_id: int | None
    created_at: datetime
