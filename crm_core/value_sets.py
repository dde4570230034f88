"""`column IN (a file's worth of values)` as one bound parameter.

An import looks up tens of thousands of names at once; as an IN list, every value is its own
parameter to render, bind and parse, which cost more than the lookups themselves. PostgreSQL
takes one array (`= ANY`), SQLite one JSON array read back by `json_each`.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from sqlalchemy import ARRAY, ColumnElement, any_, bindparam, func, select
from sqlalchemy.orm import InstrumentedAttribute


def among(attribute: InstrumentedAttribute[Any], values: Sequence[Any], dialect: str) -> ColumnElement[bool]:
    if dialect == "postgresql":
        return attribute == any_(bindparam(None, list(values), type_=ARRAY(attribute.type)))
    listed = func.json_each(bindparam(None, json.dumps(list(values)))).table_valued("value")
    return attribute.in_(select(listed.c.value))
