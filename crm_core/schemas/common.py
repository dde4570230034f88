"""Shapes shared by every list endpoint."""

from __future__ import annotations

from typing import Annotated, Any, Generic, TypeVar

from pydantic import BaseModel, BeforeValidator, Field

T = TypeVar("T")

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class Page(BaseModel, Generic[T]):
    """One page of results; pass `next_cursor` back to get the next one (null on the last)."""

    items: list[T]
    next_cursor: str | None


CustomValue = str | bool | int | float | None
CUSTOM = Field(default=None, description="custom field values by name; null clears one")
# Custom values as stored (records written before custom fields existed hold none).
CustomValues = Annotated[dict[str, Any], BeforeValidator(lambda value: value or {})]
