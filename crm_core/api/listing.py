"""Query parameters shared by list routes: paging and sorting."""

from __future__ import annotations

from typing import Annotated

from fastapi import Query

from crm_core.schemas.common import DEFAULT_PAGE_SIZE, MAX_PAGE_SIZE
from crm_core.services.pagination import PageRequest


def page_request(
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = DEFAULT_PAGE_SIZE,
    cursor: Annotated[str | None, Query(max_length=512)] = None,
    sort: Annotated[str, Query(pattern=r"^-?[a-z_]{1,40}$", description="field, '-field' for descending")] = "id",
) -> PageRequest:
    return PageRequest(limit=limit, cursor=cursor, sort=sort.lstrip("-"), descending=sort.startswith("-"))
