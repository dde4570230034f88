"""Product catalogue and order shapes. Order totals are computed, never sent by the client."""

from __future__ import annotations

import enum
from decimal import Decimal
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, PlainSerializer

from crm_core.schemas.common import EXTERNAL_ID, ExternalId, InUtc, NoNulInput, RecordId, UtcDateTime

PRICE = Field(ge=0, max_digits=14, decimal_places=2)


def _as_number(quantity: Decimal) -> int | float:
    return int(quantity) if quantity == quantity.to_integral_value() else float(quantity)


# A quantity answers as the number it is (4, 1.25), not as a padded string ("4.000").
QuantityOut = Annotated[Decimal, PlainSerializer(_as_number, return_type=int | float, when_used="json")]


class ProductCreate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = EXTERNAL_ID
    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=80)
    unit_price: Decimal = PRICE


class ProductUpdate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = EXTERNAL_ID
    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, min_length=1, max_length=80)
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)


class ProductPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    external_id: str | None
    sku: str
    name: str
    category: str
    unit_price: Decimal


class OrderStatus(enum.StrEnum):
    PLACED = "placed"
    COMPLETED = "completed"
    CANCELLED = "cancelled"
    REFUNDED = "refunded"


class OrderLineIn(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    product_id: RecordId
    quantity: Decimal = Field(
        gt=0, le=10_000, max_digits=8, decimal_places=3, description="a count or a measure (1.25 kg)"
    )


class OrderCreate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    external_id: ExternalId | None = EXTERNAL_ID
    contact_id: RecordId
    lines: list[OrderLineIn] = Field(min_length=1, max_length=200)
    ordered_at: InUtc | None = Field(default=None, description="defaults to now; naive values are UTC")
    status: OrderStatus = OrderStatus.PLACED


class OrderUpdate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    status: OrderStatus


class OrderLinePublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    product_id: int
    quantity: QuantityOut
    unit_price: Decimal


class OrderPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    external_id: str | None
    contact_id: int
    ordered_at: UtcDateTime
    status: str
    total: Decimal


class OrderDetail(OrderPublic):
    lines: list[OrderLinePublic]
