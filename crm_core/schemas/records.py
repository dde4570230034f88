"""Create / update / public shapes for contacts and accounts."""

from __future__ import annotations

import enum

from pydantic import BaseModel, ConfigDict, EmailStr, Field

from crm_core.schemas.common import (
    CUSTOM,
    EXTERNAL_ID,
    CustomValue,
    CustomValues,
    ExternalId,
    NoNulInput,
    RecordId,
    UtcDateTime,
)

NAME = Field(min_length=1, max_length=100)


class LifecycleStage(enum.StrEnum):
    LEAD = "lead"
    CUSTOMER = "customer"
    CHURNED = "churned"


class ContactCreate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = EXTERNAL_ID
    first_name: str = NAME
    last_name: str = NAME
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 ()-]{5,40}$")
    address: str | None = Field(default=None, max_length=500)
    notes: str | None = Field(default=None, max_length=5000)
    lifecycle_stage: LifecycleStage = LifecycleStage.LEAD
    account_id: RecordId | None = None
    owner_id: RecordId | None = Field(default=None, description="defaults to the caller")
    custom: dict[str, CustomValue] | None = CUSTOM
    allow_erased: bool = Field(default=False, description="administrators only: re-add a person erased before")


class ContactUpdate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = EXTERNAL_ID
    first_name: str | None = Field(default=None, min_length=1, max_length=100)
    last_name: str | None = Field(default=None, min_length=1, max_length=100)
    email: EmailStr | None = None
    phone: str | None = Field(default=None, max_length=40, pattern=r"^\+?[0-9 ()-]{5,40}$")
    address: str | None = Field(default=None, max_length=500)
    notes: str | None = Field(default=None, max_length=5000)
    lifecycle_stage: LifecycleStage | None = None
    account_id: RecordId | None = None
    owner_id: RecordId | None = None
    custom: dict[str, CustomValue] | None = CUSTOM


class AccountCreate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = EXTERNAL_ID
    name: str = Field(min_length=1, max_length=200)
    industry: str | None = Field(default=None, max_length=80)
    owner_id: RecordId | None = Field(default=None, description="defaults to the caller")
    custom: dict[str, CustomValue] | None = CUSTOM


class AccountUpdate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = EXTERNAL_ID
    name: str | None = Field(default=None, min_length=1, max_length=200)
    industry: str | None = Field(default=None, max_length=80)
    owner_id: RecordId | None = None
    custom: dict[str, CustomValue] | None = CUSTOM


class AccountPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    external_id: str | None
    name: str
    industry: str | None
    owner_id: int | None
    custom: CustomValues
    created_at: UtcDateTime
