"""Keyset (cursor) pagination: stable under concurrent inserts, O(page) at any depth.

The cursor is an opaque token holding the last row's sort value and id; pages are ordered by
(sort column, id), so ties never repeat or skip rows.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from crm_core.errors import ValidationFailedError


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None = None
    sort: str = "id"
    descending: bool = False


def encode_cursor(sort_value: Any, row_id: int) -> str:
    value = sort_value.isoformat() if isinstance(sort_value, datetime) else sort_value
    return base64.urlsafe_b64encode(json.dumps([value, row_id]).encode()).decode()


def decode_cursor(cursor: str, sample: InstrumentedAttribute[Any]) -> tuple[Any, int]:
    try:
        value, row_id = json.loads(base64.urlsafe_b64decode(cursor.encode()))
        if sample.type.python_type is datetime and value is not None:
            value = datetime.fromisoformat(value)
        return value, int(row_id)
    except (ValueError, TypeError, json.JSONDecodeError) as error:
        raise ValidationFailedError("cursor", "is not a cursor this API issued") from error


def keyset_page(
    query: Select[Any],
    *,
    sort_column: InstrumentedAttribute[Any],
    id_column: InstrumentedAttribute[int],
    page: PageRequest,
) -> Select[Any]:
    """Apply the cursor, order and limit (one extra row tells whether another page exists)."""
    if page.cursor is not None:
        value, last_id = decode_cursor(page.cursor, sort_column)
        if page.descending:
            query = query.where(or_(sort_column < value, and_(sort_column == value, id_column < last_id)))
        else:
            query = query.where(or_(sort_column > value, and_(sort_column == value, id_column > last_id)))
    order = (sort_column.desc(), id_column.desc()) if page.descending else (sort_column.asc(), id_column.asc())
    return query.order_by(*order).limit(page.limit + 1)
