"""A file's custom-field columns (`custom.<name>`), checked against their definitions.

Each distinct cell is checked once, by the same coercion the API applies to a custom value, so
custom values land in the spelling filters and the feature pipeline read, whichever way they
came in. A field's values are one type (its definition's), so each stays a typed column until
the record's `custom` object is written.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from crm_core.entities import CustomFieldDefinition, CustomFieldType
from crm_core.services.contact_history import CUSTOM_PREFIX as PREFIX
from crm_core.services.custom_fields import coerce

CUSTOM = "custom"
STORED_AS: dict[CustomFieldType, pl.DataType] = {
    CustomFieldType.TEXT: pl.String(),
    CustomFieldType.NUMBER: pl.Float64(),
    CustomFieldType.INTEGER: pl.Int64(),
    CustomFieldType.BOOLEAN: pl.Boolean(),
    CustomFieldType.DATE: pl.String(),  # ISO dates, as the API stores them
    CustomFieldType.CHOICE: pl.String(),
}


def custom_column_name(name: str) -> str:
    return PREFIX + name


def custom_columns(frame: pl.DataFrame) -> list[str]:
    return [column for column in frame.columns if column.startswith(PREFIX)]


def parse_custom(
    definitions: Mapping[str, CustomFieldDefinition], raw: pl.DataFrame
) -> tuple[list[pl.Series], dict[str, pl.Series]]:
    """Per fed custom field, its typed column (null where empty or refused) and why each refused
    cell does not fit (null where it fits)."""
    typed: list[pl.Series] = []
    reasons: dict[str, pl.Series] = {}
    for name, definition in definitions.items():
        column = custom_column_name(name)
        if column not in raw.columns:
            continue
        fits: dict[str, Any] = {}
        why: dict[str, str] = {}
        for text in raw[column].drop_nulls().unique().to_list():
            try:
                fits[text] = coerce(definition, text)
            except ValueError as error:
                why[text] = str(error)
        dtype = STORED_AS[CustomFieldType(definition.type)]
        typed.append(raw[column].replace_strict(fits, default=None, return_dtype=dtype).alias(column))
        reasons[column] = raw[column].replace_strict(why, default=None, return_dtype=pl.String)
    return typed, reasons


def custom_objects(frame: pl.DataFrame) -> list[dict[str, Any]]:
    """Each row's custom values as its record stores them: the fields it sets, by name."""
    columns = custom_columns(frame)
    if not columns:
        return [{} for _ in range(frame.height)]
    names = [column.removeprefix(PREFIX) for column in columns]
    return [
        {name: value for name, value in zip(names, row, strict=True) if value is not None}
        for row in frame.select(columns).iter_rows()
    ]
