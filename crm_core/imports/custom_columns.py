"""A file's custom-field columns (`custom.<name>`), checked against their definitions.

Each distinct cell is checked once, by the same coercion the API applies to a custom value, and
each row gets the dict its record stores: custom values land in the spelling filters and the
feature pipeline read, whichever way they came in.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import polars as pl

from crm_core.entities import CustomFieldDefinition
from crm_core.services.custom_fields import coerce

CUSTOM = "custom"
PREFIX = "custom."


def custom_column_name(name: str) -> str:
    return PREFIX + name


def parse_custom(
    definitions: Mapping[str, CustomFieldDefinition], raw: pl.DataFrame
) -> tuple[pl.Series, dict[str, pl.Series]]:
    """Per row, the custom values it sets (an object column named `custom`); per fed column,
    why each refused cell does not fit (null where it fits)."""
    checked: dict[str, dict[str, Any]] = {}
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
        checked[name] = fits
        reasons[column] = raw[column].replace_strict(why, default=None, return_dtype=pl.String)
    columns = [custom_column_name(name) for name in checked]
    values = (
        [
            {name: checked[name][cell] for name, cell in zip(checked, row, strict=True) if cell in checked[name]}
            for row in raw.select(columns).iter_rows()
        ]
        if columns
        else [{} for _ in range(raw.height)]
    )
    return pl.Series(CUSTOM, values, dtype=pl.Object), reasons
