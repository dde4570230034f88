"""A company's own custom fields as model inputs, valued point-in-time from the contact history.

A catalogue entry names the fields (`custom_fields = ["plan", "industry"]`); the feature build
turns each into float64 columns beside the pinned features, valued at every snapshot date as
the contact's history held them then (the newest change at or before the date), so a value set
after a training row's date never reaches that row. A contact whose current value has no
history (stored before the history was kept) holds it from its creation, as an import dates it.

Encoding by the field's type: a number as itself, yes/no as 1/0, a date as days since it, and a
text or choice field as one 0/1 column per value it has ever held (at most `MAX_VALUES`: free
text is not an input). A value no contact holds any more reads 0 wherever its column is gone,
which is exactly what it means (`absent_indicators`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import polars as pl

from crm_core.errors import CrmError
from crm_core.exports import CrmExport
from features.schema import CUSTOM_PREFIX, DAYS_SINCE_SUFFIX, ENTITY_KEY, EVENT_TIMESTAMP, INDICATOR_INFIX

MAX_VALUES = 30
SLUG_LENGTH = 40
HISTORY_PREFIX = "custom."  # how the contact history names a custom field
InputKind = Literal["number", "flag", "days_since", "is_value"]
TRUE_TEXT = ("true", "1", "yes")
FALSE_TEXT = ("false", "0", "no")


class CustomInputError(CrmError, ValueError):
    """A custom field a model names cannot be an input: which field, and why."""


@dataclass(frozen=True)
class CustomInput:
    """One model input column computed from one custom field."""

    column: str
    field: str
    kind: InputKind
    value: str | None = None  # the value slug an is_value column marks


def value_slug(text: pl.Expr) -> pl.Expr:
    """The spelling a text value is compared and named in: lower case, runs of anything but
    letters and digits as one underscore ("Paid (annual)" -> "paid_annual")."""
    slug = text.str.to_lowercase().str.replace_all(r"[^a-z0-9]+", "_").str.strip_chars("_")
    return pl.when(slug == "").then(pl.lit("blank")).otherwise(slug.str.slice(0, SLUG_LENGTH))


def field_history(export: CrmExport, field: str) -> pl.DataFrame:
    """(contact_id, value, changed_at) of one custom field, oldest first per contact: its changes,
    and the current value dated at creation for a contact whose history never mentions it."""
    changes = export.contact_changes.filter(pl.col("field") == f"{HISTORY_PREFIX}{field}").select(
        ENTITY_KEY, "value", "changed_at"
    )
    current = export.contact_custom.select(ENTITY_KEY, pl.col(field).cast(pl.String).alias("value")).filter(
        pl.col("value").is_not_null() & ~pl.col(ENTITY_KEY).is_in(changes[ENTITY_KEY].unique().implode())
    )
    undated = current.join(export.contacts, on=ENTITY_KEY, how="inner").select(
        ENTITY_KEY, "value", pl.col("created_at").alias("changed_at")
    )
    return pl.concat([changes, undated]).sort(ENTITY_KEY, "changed_at", maintain_order=True)


def _kind_of(dtype: pl.DataType) -> InputKind | None:
    if dtype.is_numeric():
        return "number"
    if dtype == pl.Boolean:
        return "flag"
    if dtype == pl.Date:
        return "days_since"
    return None  # text and choice fields: one column per value


def custom_inputs(export: CrmExport, fields: Sequence[str]) -> list[CustomInput]:
    """The columns the named fields become, in the order named, each field checked."""
    defined = export.contact_custom.schema
    inputs: list[CustomInput] = []
    for field in fields:
        if field not in defined:
            raise CustomInputError(
                f"custom field '{field}' is not defined for contacts: define it, or take it out of models.toml"
            )
        kind = _kind_of(defined[field])
        if kind in {"number", "flag"}:
            inputs.append(CustomInput(f"{CUSTOM_PREFIX}{field}", field, kind))
        elif kind == "days_since":
            inputs.append(CustomInput(f"{CUSTOM_PREFIX}{field}{DAYS_SINCE_SUFFIX}", field, kind))
        else:
            inputs.extend(_indicators(export, field))
    return inputs


def _indicators(export: CrmExport, field: str) -> list[CustomInput]:
    counts = (
        field_history(export, field)
        .filter(pl.col("value").is_not_null())
        .group_by(value_slug(pl.col("value")).alias("slug"))
        .len()
        .sort(["len", "slug"], descending=[True, False])
    )
    if counts.height > MAX_VALUES:
        raise CustomInputError(
            f"custom field '{field}' has held {counts.height} different values; a model takes a text field "
            f"of at most {MAX_VALUES} values (free text is not an input)"
        )
    return [
        CustomInput(f"{CUSTOM_PREFIX}{field}{INDICATOR_INFIX}{slug}", field, "is_value", slug)
        for slug in counts["slug"].to_list()
    ]


def _encoded(item: CustomInput, as_of: datetime) -> pl.Expr:
    value = pl.col("value")
    if item.kind == "number":
        encoded = value.cast(pl.Float64, strict=False)
    elif item.kind == "flag":
        lowered = value.str.to_lowercase()
        encoded = pl.when(lowered.is_in(TRUE_TEXT)).then(1.0).when(lowered.is_in(FALSE_TEXT)).then(0.0)
    elif item.kind == "days_since":
        day = value.str.slice(0, 10).str.to_date(strict=False)
        encoded = (pl.lit(as_of.date()) - day).dt.total_days().cast(pl.Float64)
    else:
        encoded = (value_slug(value) == item.value).fill_null(False).cast(pl.Float64)
    return encoded.cast(pl.Float64).alias(item.column)


def custom_values(export: CrmExport, inputs: Sequence[CustomInput], as_of_dates: Sequence[datetime]) -> pl.DataFrame:
    """(contact_id, event_timestamp, one column per input) for every contact holding any of the
    fields at each date; a contact absent here holds none of them (null, or 0 for a value column)."""
    schema = pl.Schema(
        {ENTITY_KEY: pl.Int64(), EVENT_TIMESTAMP: pl.Datetime("us")} | {item.column: pl.Float64() for item in inputs}
    )
    frames: list[pl.LazyFrame] = []
    for field in dict.fromkeys(item.field for item in inputs):
        of_field = [item for item in inputs if item.field == field]
        history = field_history(export, field).lazy()
        for as_of in as_of_dates:
            held = history.filter(pl.col("changed_at") <= as_of).group_by(ENTITY_KEY).agg(pl.col("value").last())
            frames.append(
                held.select(
                    ENTITY_KEY,
                    pl.lit(as_of).cast(pl.Datetime("us")).alias(EVENT_TIMESTAMP),
                    *(_encoded(item, as_of) for item in of_field),
                )
            )
    if not frames:
        return pl.DataFrame(schema=schema)
    per_field = pl.collect_all(frames)
    combined = pl.concat(per_field, how="diagonal_relaxed")
    keys = [ENTITY_KEY, EVENT_TIMESTAMP]
    merged = combined.group_by(keys).agg(pl.col(item.column).drop_nulls().first() for item in inputs)
    return merged.select([pl.col(name).cast(dtype) for name, dtype in schema.items()]).sort(keys)


def with_custom_values(snapshots: pl.DataFrame, values: pl.DataFrame, inputs: Sequence[CustomInput]) -> pl.DataFrame:
    """The snapshots with the custom columns joined on (contact, date); value columns of a
    contact holding no value read 0."""
    if not inputs:
        return snapshots
    joined = snapshots.join(values, on=[ENTITY_KEY, EVENT_TIMESTAMP], how="left")
    indicators = [item.column for item in inputs if item.kind == "is_value"]
    return joined.with_columns(pl.col(indicators).fill_null(0.0)) if indicators else joined


def absent_indicators(frame: pl.DataFrame, wanted: Sequence[str]) -> pl.DataFrame:
    """`frame` with a 0 column for each value column `wanted` it lacks: a value no contact holds
    any more since the model was trained."""
    missing = [name for name in wanted if INDICATOR_INFIX in name and name not in frame.columns]
    return frame.with_columns(pl.lit(0.0).alias(name) for name in missing) if missing else frame
