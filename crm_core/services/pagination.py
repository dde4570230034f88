"""Keyset (cursor) pagination: stable under concurrent inserts, O(page) at any depth.

The cursor is an opaque token holding the last row's sort value and id; pages are ordered by
(sort column, id), so ties never repeat or skip rows.
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import BigInteger, Select, and_, or_
from sqlalchemy.orm import InstrumentedAttribute

from crm_core.clock import as_naive_utc
from crm_core.errors import ValidationFailedError
from crm_core.text_safety import is_storable_text


@dataclass(frozen=True)
class PageRequest:
    limit: int
    cursor: str | None = None
    sort: str = "id"
    descending: bool = False


# Integer columns are 32-bit on PostgreSQL: a larger bound value fails there ("integer out of
# range") instead of matching nothing, so cursors hold ids and integers within that range.
MAX_CURSOR_INTEGER = 2**31 - 1
MAX_BIG_CURSOR_INTEGER = 2**63 - 1
MAX_CURSOR_TEXT = 1000
MAX_CURSOR_NUMBER = Decimal(10) ** 15


def encode_cursor(sort_value: Any, row_id: int) -> str:
    if isinstance(sort_value, datetime):
        value: Any = sort_value.isoformat()
    elif isinstance(sort_value, Decimal):
        value = str(sort_value)
    else:
        value = sort_value
    return base64.urlsafe_b64encode(json.dumps([value, row_id]).encode()).decode()


def decode_cursor(cursor: str, sample: InstrumentedAttribute[Any]) -> tuple[Any, int]:
    """The sort value and id a cursor holds, each checked against the shape `encode_cursor`
    writes for this column: a cursor is client input, and a dict, a huge number or a string
    where a date belongs would otherwise reach the database driver and fail there."""
    try:
        decoded = json.loads(base64.urlsafe_b64decode(cursor.encode()))
    except (ValueError, TypeError, RecursionError) as error:
        raise _not_ours() from error
    if not isinstance(decoded, list) or len(decoded) != 2:
        raise _not_ours()
    value, row_id = decoded
    if type(row_id) is not int or not 0 <= row_id <= MAX_CURSOR_INTEGER:
        raise _not_ours()
    big = isinstance(sample.type, BigInteger)
    return _sort_value(value, sample.type.python_type, MAX_BIG_CURSOR_INTEGER if big else MAX_CURSOR_INTEGER), row_id


def _not_ours() -> ValidationFailedError:
    return ValidationFailedError("cursor", "is not a cursor this API issued")


def _sort_value(value: Any, python_type: type, integer_bound: int) -> Any:
    """Sortable columns are NOT NULL, so a cursor never holds null (SQL cannot order by
    comparison with it either)."""
    if python_type is datetime:
        if not isinstance(value, str) or len(value) > 40:
            raise _not_ours()
        try:
            return as_naive_utc(datetime.fromisoformat(value))
        except (ValueError, OverflowError) as error:
            raise _not_ours() from error
    if python_type is int:
        if type(value) is not int or abs(value) > integer_bound:
            raise _not_ours()
        return value
    if python_type is Decimal or python_type is float:
        if type(value) not in (str, int, float) or len(str(value)) > 40:
            raise _not_ours()
        try:
            number = Decimal(str(value))
        except InvalidOperation as error:
            raise _not_ours() from error
        if not number.is_finite() or abs(number) >= MAX_CURSOR_NUMBER:
            raise _not_ours()
        return number if python_type is Decimal else float(number)
    if python_type is str:
        if not isinstance(value, str) or len(value) > MAX_CURSOR_TEXT or not is_storable_text(value):
            raise _not_ours()
        return value
    raise _not_ours()


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
