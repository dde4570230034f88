"""Product catalogue and order shapes. Order totals are computed, never sent by the client."""

from __future__ import annotations

import enum
from decimal import Decimal

from pydantic import BaseModel, ConfigDict, Field

from crm_core.schemas.common import InUtc, NoNulInput, RecordId, UtcDateTime

PRICE = Field(ge=0, max_digits=14, decimal_places=2)


class ProductCreate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    sku: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9._-]+$")
    name: str = Field(min_length=1, max_length=200)
    category: str = Field(min_length=1, max_length=80)
    unit_price: Decimal = PRICE


class ProductUpdate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    name: str | None = Field(default=None, min_length=1, max_length=200)
    category: str | None = Field(default=None, min_length=1, max_length=80)
    unit_price: Decimal | None = Field(default=None, ge=0, max_digits=14, decimal_places=2)


class ProductPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
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
    quantity: int = Field(ge=1, le=10_000)


class OrderCreate(NoNulInput):
    model_config = ConfigDict(extra="forbid")

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
    quantity: int
    unit_price: Decimal


class OrderPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    contact_id: int
    ordered_at: UtcDateTime
    status: str
    total: Decimal


class OrderDetail(OrderPublic):
    lines: list[OrderLinePublic]
