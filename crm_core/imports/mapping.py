"""Which file column feeds which field: explicit pairs first, then columns named like a field."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from crm_core.errors import ValidationFailedError


def _plain(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "_", name.strip().lower()).strip("_")


def resolve_mapping(
    columns: Iterable[str], fields: Iterable[str], explicit: Mapping[str, str] | None = None
) -> dict[str, str]:
    """field -> file column. Explicit pairs (field: column) win; other fields match a column
    whose name is the field's in any case or spacing ("First Name" feeds first_name)."""
    columns = list(columns)
    fields = list(fields)
    explicit = dict(explicit or {})
    for field, column in explicit.items():
        if field not in fields:
            raise ValidationFailedError("mapping", f"'{field}' is not an importable field ({', '.join(fields)})")
        if column not in columns:
            raise ValidationFailedError("mapping", f"column '{column}' (for {field}) is not in the file")
    by_plain = {_plain(column): column for column in columns}
    mapping = dict(explicit)
    for field in fields:
        if field not in mapping and field in by_plain and by_plain[field] not in mapping.values():
            mapping[field] = by_plain[field]
    return mapping


def parse_mapping_pairs(pairs: Iterable[str]) -> dict[str, str]:
    """`field=Column Name` pairs as given on a command line."""
    parsed: dict[str, str] = {}
    for pair in pairs:
        field, separator, column = pair.partition("=")
        if not separator or not field.strip() or not column.strip():
            raise ValidationFailedError("mapping", f"'{pair}' is not field=column")
        parsed[field.strip()] = column.strip()
    return parsed


COLUMNS_NAMED = 30


def unfed_fields(missing: list[str], columns: list[str]) -> str:
    """Every required field no column feeds, named at once with the file's columns, so one
    attempt fixes the mapping (naming one field per try made each run reveal the next)."""
    named = ", ".join(repr(column) for column in columns[:COLUMNS_NAMED])
    more = f" and {len(columns) - COLUMNS_NAMED:,} more" if len(columns) > COLUMNS_NAMED else ""
    fields = " and ".join(missing)
    pairs = " ".join(f"{name}=<column>" for name in missing)
    return f"no column feeds {fields}; map them with {pairs} (the file's columns: {named}{more})"
