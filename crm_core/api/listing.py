"""Query parameters shared by list routes: paging and sorting."""

from __future__ import annotations

import enum
from typing import Annotated, Any

from fastapi import Query
from sqlalchemy import ColumnElement
from sqlalchemy.orm import InstrumentedAttribute

from crm_core.schemas.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from crm_core.services.pagination import PageRequest

# Find a record by its id in the system it came from: an integration links by it instead of
# paging the whole list to build an id map.
ExternalIdFilter = Annotated[
    str | None, Query(min_length=1, max_length=120, description="the record's id in the system it came from")
]


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    sort: Annotated[str, Query(pattern=r"^-?[a-z_]{1,40}$", description="field, '-field' for descending")] = "id",
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor, sort=sort.lstrip("-"), descending=sort.startswith("-"))


def equal_to(*pairs: tuple[InstrumentedAttribute[Any], object]) -> list[ColumnElement[bool]]:
    """`column == value` for each filter the caller gave (None means "not filtered")."""
    return [
        column == (value.value if isinstance(value, enum.Enum) else value)
        for column, value in pairs
        if value is not None
    ]
