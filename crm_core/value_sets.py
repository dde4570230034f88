"""`column IN (a file's worth of values)` as one bound parameter.

An import looks up tens of thousands of names at once; as an IN list, every value is its own
parameter to render, bind and parse, which cost more than the lookups themselves. PostgreSQL
takes one array (`= ANY`). SQLite reads one JSON array back with `json_each`, joined to the
table: as `IN (SELECT ...)` it first builds a temporary index of every value, several times
slower than probing the table's own index once per value.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, TypeVar

from sqlalchemy import ARRAY, Select, any_, bindparam, func, or_
from sqlalchemy.orm import InstrumentedAttribute

Query = TypeVar("Query", bound=Select[Any])


def where_among(
    query: Query,
    attributes: InstrumentedAttribute[Any] | Sequence[InstrumentedAttribute[Any]],
    values: Sequence[Any],
    dialect: str,
) -> Query:
    """`query` narrowed to rows whose attribute (any of `attributes`) is one of `values`."""
    columns = [attributes] if isinstance(attributes, InstrumentedAttribute) else list(attributes)
    distinct = list(dict.fromkeys(values))
    if dialect == "postgresql":
        array = bindparam(None, distinct, type_=ARRAY(columns[0].type))
        return query.where(or_(*(column == any_(array) for column in columns)))
    listed = func.json_each(bindparam(None, json.dumps(distinct))).table_valued("value")
    return query.join(listed, or_(*(column == listed.c.value for column in columns)))
