"""Deal shapes. The stage is not in `DealUpdate`: it moves only through a recorded transition."""

from __future__ import annotations

from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from crm_core.entities import DealStage
from crm_core.schemas.common import (
    CUSTOM,
    EXTERNAL_ID,
    CustomValue,
    CustomValues,
    ExternalId,
    InUtc,
    NoNulInput,
    RecordId,
    UtcDateTime,
)

MONEY = Field(ge=0, max_digits=14, decimal_places=2)


class DealCreate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = EXTERNAL_ID
    name: str = Field(min_length=1, max_length=200)
    amount: Decimal = MONEY
    stage: DealStage = DealStage.PROSPECTING
    account_id: RecordId | None = None
    contact_id: RecordId | None = None
    owner_id: RecordId | None = Field(default=None, description="defaults to the caller")
    custom: dict[str, CustomValue] | None = CUSTOM
    opened_at: InUtc | None = Field(
        default=None, description="defaults to now; an earlier date brings a deal's history in (naive values are UTC)"
    )


class DealUpdate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = EXTERNAL_ID
    name: str | None = Field(default=None, min_length=1, max_length=200)
    amount: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)
    owner_id: RecordId | None = None
    custom: dict[str, CustomValue] | None = CUSTOM


class StageChange(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    stage: DealStage
    changed_at: InUtc | None = Field(
        default=None,
        description="defaults to now; an earlier date records a past move, never before the deal's last one",
    )


class DealPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    external_id: str | None
    name: str
    amount: Decimal
    stage: str
    status: str
    account_id: int | None
    contact_id: int | None
    owner_id: int | None
    custom: CustomValues
    opened_at: UtcDateTime
    closed_at: UtcDateTime | None


class StageChangePublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    from_stage: str | None
    to_stage: str
    changed_at: UtcDateTime
