"""Mapping files: a company writes once, in TOML, how its export says what our fields mean.

    kind = "orders"                      # what the file holds (the command line may say it instead)
    separator = ";"                      # a CSV's field separator, when not a comma
    row_ids = "web-orders-"              # a file with no id column: external ids are this and the row number

    [columns]                            # field = "the file's column"
    external_id = "InvoiceNo"
    contact = "CustomerID"
    ordered_at = "InvoiceDate"

    [fields.ordered_at]                  # how this file writes a field
    date_format = "%m/%d/%Y %H:%M"

    [fields.status.values]               # the file's words for our values
    C = "cancelled"

    [constants]                          # a value every row takes, when the file has no column for it
    channel = "web"

    [fields.ordered_at.relative]         # no dates in the file: the days between a customer's events
    customer = "user_id"
    sequence = "order_number"
    days_since_previous = "days_since_prior_order"
    hour = "order_hour_of_day"
    last_on = 2026-01-01                 # each customer's last event falls on this day

    [custom_fields.plan]                 # a company's own field the file brings (contacts,
    column = "Plan"                      # accounts, deals): defined on import if the CRM lacks
    type = "choice"                      # it, checked against its definition if it has it
    choices = ["free", "paid"]

Fields a file names like ours ("Ordered At" feeds ordered_at) need no line at all.
"""

from __future__ import annotations

import tomllib
from datetime import date
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crm_core.entities import CustomFieldType
from crm_core.errors import ValidationFailedError
from crm_core.imports.bulk_records import ImportMapping
from crm_core.imports.custom_columns import custom_column_name
from crm_core.imports.relative_dates import RelativeDates
from crm_core.imports.typed_columns import ColumnOptions
from crm_core.services.custom_fields import FieldDeclaration

MAX_MAPPING_BYTES = 256 * 1024


ColumnName = Annotated[str, Field(min_length=1, max_length=200)]


class RelativeDatesSpec(BaseModel):
    """A date field the file has no dates for: from the days between one customer's events."""

    model_config = ConfigDict(extra="forbid")

    customer: ColumnName
    sequence: ColumnName
    days_since_previous: ColumnName
    last_on: date
    hour: ColumnName | None = None


class FieldOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    date_format: str | None = Field(default=None, max_length=100)
    decimal_comma: bool = False
    values: dict[str, str] = Field(default_factory=dict, max_length=1_000)
    relative: RelativeDatesSpec | None = None


class CustomFieldSpec(BaseModel):
    """A custom field a file brings: its column, and the definition it needs."""

    model_config = ConfigDict(extra="forbid")

    column: str | None = Field(default=None, min_length=1, max_length=200)
    type: CustomFieldType
    label: str | None = Field(default=None, min_length=1, max_length=120)
    choices: list[str] | None = Field(default=None, min_length=1, max_length=100)


class MappingFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str | None = Field(default=None, max_length=40)
    separator: str = Field(default=",", min_length=1, max_length=1)
    row_ids: str | None = Field(default=None, min_length=1, max_length=40, pattern=r"^[A-Za-z0-9_.:-]+$")
    constants: dict[str, str] = Field(default_factory=dict, max_length=100)
    columns: dict[str, str] = Field(default_factory=dict, max_length=500)
    fields: dict[str, FieldOptions] = Field(default_factory=dict, max_length=500)
    custom_fields: dict[str, CustomFieldSpec] = Field(default_factory=dict, max_length=100)

    def mapping(self) -> ImportMapping:
        options = {
            name: ColumnOptions(date_format=spec.date_format, decimal_comma=spec.decimal_comma, values=spec.values)
            for name, spec in self.fields.items()
        }
        custom_columns = {
            custom_column_name(name): spec.column for name, spec in self.custom_fields.items() if spec.column
        }
        declared = [
            FieldDeclaration(name, spec.type, spec.label or name.replace("_", " ").capitalize(), spec.choices)
            for name, spec in self.custom_fields.items()
        ]
        return ImportMapping(
            columns=dict(self.columns) | custom_columns,
            options=options,
            custom_fields=declared,
            constants=dict(self.constants),
            row_ids=self.row_ids,
            separator=self.separator,
            relative_dates={
                name: RelativeDates(**spec.relative.model_dump())
                for name, spec in self.fields.items()
                if spec.relative is not None
            },
        )


def read_mapping_file(path: Path) -> MappingFile:
    """The file's mapping, or an error naming the file, the line of a TOML mistake, or the key."""
    if path.stat().st_size > MAX_MAPPING_BYTES:
        raise ValidationFailedError("mapping", f"{path.name} is larger than {MAX_MAPPING_BYTES // 1024} KiB")
    return parse_mapping(path.read_text(encoding="utf-8"), path.name)


def parse_mapping(text: str, label: str) -> MappingFile:
    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as error:
        raise ValidationFailedError("mapping", f"{label} is not valid TOML: {error}") from None
    try:
        return MappingFile.model_validate(document)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "the file"
        raise ValidationFailedError("mapping", f"{label}: {where}: {first['msg']}") from None
