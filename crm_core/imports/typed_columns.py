"""Turning a file's text columns into typed values, a whole column at a time.

A field says what it holds (text, money, a quantity, a timestamp, one of a set of values); a
column's options (from a mapping file) say how this file writes it: a date format, a decimal
comma, which of its words mean which of our values. A cell that does not parse is not guessed
at: it becomes null and is reported with its row, the field and why.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from crm_core.errors import ValidationFailedError
from crm_core.normalise import EMAIL_FORM, normalise_phone, parse_timestamp
from crm_core.schemas.common import EARLIEST, LATEST


class FieldType(enum.Enum):
    TEXT = "text"
    MONEY = "money"
    QUANTITY = "quantity"
    TIMESTAMP = "timestamp"
    CHOICE = "choice"
    INTEGER = "integer"
    EMAIL = "email"
    PHONE = "phone"


@dataclass(frozen=True)
class ImportField:
    """One field a record kind takes from a file."""

    type: FieldType = FieldType.TEXT
    required: bool = False
    max_length: int = 200
    pattern: str | None = None  # for text: what the whole value must look like
    choices: tuple[str, ...] = ()
    minimum: float | None = None
    maximum: float | None = None
    description: str = ""


@dataclass(frozen=True)
class ColumnOptions:
    """How one file writes one field (all optional): from the mapping file's `[fields.<name>]`."""

    date_format: str | None = None  # strftime form, e.g. "%d/%m/%Y %H:%M"
    decimal_comma: bool = False  # "1.234,50" means 1234.50
    values: Mapping[str, str] = field(default_factory=dict)  # the file's word -> our value


@dataclass(frozen=True)
class Parsed:
    """A typed column and, per row, why its cell was refused (null where it was fine)."""

    values: pl.Series
    problems: pl.Series


MAX_MONEY = 10**12
MAX_QUANTITY = 10**8
_NUMBER = r"^[+-]?(\d+\.?\d*|\.\d+)$"


def parse_column(name: str, spec: ImportField, raw: pl.Series, options: ColumnOptions) -> Parsed:
    """`raw` is text with nulls for empty cells; the result has one value and one reason per row."""
    parser = _PARSERS[spec.type]
    values, reasons = parser(raw, spec, options)
    present = raw.is_not_null()
    reasons = pl.select(
        pl.when(present & values.is_null() & reasons.is_null())
        .then(pl.lit(f"is not a valid {spec.type.value}"))
        .otherwise(reasons)
    ).to_series()
    if spec.required:
        reasons = pl.select(pl.when(present.not_()).then(pl.lit("is required")).otherwise(reasons)).to_series()
    return Parsed(values.alias(name), reasons.alias(name))


CONTROL_CHARACTERS = r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]"


def _text(raw: pl.Series, spec: ImportField, _options: ColumnOptions) -> tuple[pl.Series, pl.Series]:
    too_long = raw.str.len_chars() > spec.max_length
    control = raw.str.contains(CONTROL_CHARACTERS)
    reasons = pl.select(
        pl.when(too_long)
        .then(pl.lit(f"is longer than {spec.max_length} characters"))
        .when(control)
        .then(pl.lit("holds control characters"))
        .when(pl.lit(spec.pattern is not None) & raw.str.contains(spec.pattern or "").not_())
        .then(pl.lit(f"does not look like {spec.description or 'the expected form'}"))
        .otherwise(None)
    ).to_series()
    return pl.select(pl.when(reasons.is_null()).then(raw)).to_series(), reasons


def _number(raw: pl.Series, options: ColumnOptions) -> pl.Series:
    text = raw.str.replace_all(r"[\s\u00a0']", "")
    if options.decimal_comma:
        text = text.str.replace_all(".", "", literal=True).str.replace(",", ".", literal=True)
    else:
        text = text.str.replace_all(",", "", literal=True)
    text = text.str.replace(r"^[$€£¥]|[$€£¥]$", "")
    return pl.select(pl.when(text.str.contains(_NUMBER)).then(text.cast(pl.Float64, strict=False))).to_series()


def _bounded(
    raw: pl.Series, spec: ImportField, options: ColumnOptions, *, places: int, ceiling: float, what: str
) -> tuple[pl.Series, pl.Series]:
    number = _number(raw, options)
    low = spec.minimum if spec.minimum is not None else 0.0
    high = min(spec.maximum, ceiling) if spec.maximum is not None else ceiling
    reasons = pl.select(
        pl.when(raw.is_not_null() & number.is_null())
        .then(pl.lit(f"is not {what}"))
        .when(number < low)
        .then(pl.lit(f"is below {low:g}"))
        .when(number > high)
        .then(pl.lit(f"is above {high:g}"))
        .when((number * 10**places - (number * 10**places).round(0)).abs() > 1e-6)
        .then(pl.lit(f"has more than {places} decimal places"))
        .otherwise(None)
    ).to_series()
    return pl.select(pl.when(reasons.is_null()).then(number.round(places))).to_series(), reasons


def _money(raw: pl.Series, spec: ImportField, options: ColumnOptions) -> tuple[pl.Series, pl.Series]:
    return _bounded(raw, spec, options, places=2, ceiling=MAX_MONEY, what="an amount")


def _quantity(raw: pl.Series, spec: ImportField, options: ColumnOptions) -> tuple[pl.Series, pl.Series]:
    return _bounded(raw, spec, options, places=3, ceiling=MAX_QUANTITY, what="a quantity")


def _integer(raw: pl.Series, spec: ImportField, options: ColumnOptions) -> tuple[pl.Series, pl.Series]:
    values, reasons = _bounded(raw, spec, options, places=0, ceiling=2**31 - 1, what="a whole number")
    return values.cast(pl.Int64), reasons


def _timestamp(raw: pl.Series, _spec: ImportField, options: ColumnOptions) -> tuple[pl.Series, pl.Series]:
    if options.date_format is not None:
        try:
            parsed = raw.str.strptime(pl.Datetime("us"), options.date_format, strict=False)
        except pl.exceptions.PolarsError:
            raise ValidationFailedError("mapping", f"date_format {options.date_format!r} is not a date form") from None
        reason = f"is not a date in the form {options.date_format}"
    else:
        parsed = _iso_timestamps(raw)
        reason = "is not a date (use YYYY-MM-DD or ISO 8601, or give the column a date_format)"
    reasons = pl.select(
        pl.when(raw.is_not_null() & parsed.is_null())
        .then(pl.lit(reason))
        .when((parsed < EARLIEST) | (parsed >= LATEST))
        .then(pl.lit("is outside the supported dates (1900 to 2199)"))
        .otherwise(None)
    ).to_series()
    return pl.select(pl.when(reasons.is_null()).then(parsed)).to_series(), reasons


# Zone-free ISO forms polars reads a column at a time; the rest (zones, other unambiguous forms)
# go through the contact import's own parser once per distinct value.
_ISO_FORMS = ("%Y-%m-%d %H:%M:%S%.f", "%Y-%m-%dT%H:%M:%S%.f", "%Y-%m-%d %H:%M", "%Y-%m-%dT%H:%M", "%Y-%m-%d")


def _iso_timestamps(raw: pl.Series) -> pl.Series:
    quick = pl.select(
        pl.coalesce([raw.str.strptime(pl.Datetime("us"), form, strict=False, exact=True) for form in _ISO_FORMS])
    ).to_series()
    rest = raw.filter(raw.is_not_null() & quick.is_null()).unique().to_list()
    if not rest:
        return quick
    known = {text: _one_timestamp(text) for text in rest}
    return quick.fill_null(raw.replace_strict(known, default=None, return_dtype=pl.Datetime("us")))


def _one_timestamp(text: str) -> datetime | None:
    try:
        return parse_timestamp(text)
    except (ValueError, OverflowError):
        return None


def _choice(raw: pl.Series, spec: ImportField, options: ColumnOptions) -> tuple[pl.Series, pl.Series]:
    own = {word.strip().lower(): value for word, value in options.values.items()}
    words = raw.str.strip_chars().str.to_lowercase()
    translated = words.replace(own) if own else words
    allowed = pl.Series(list(spec.choices), dtype=pl.String)
    reasons = pl.select(
        pl.when(raw.is_not_null() & translated.is_in(allowed).not_())
        .then(pl.lit(f"is not one of {', '.join(spec.choices)} (a mapping file's values can translate it)"))
        .otherwise(None)
    ).to_series()
    return pl.select(pl.when(reasons.is_null()).then(translated)).to_series(), reasons


def _email(raw: pl.Series, spec: ImportField, _options: ColumnOptions) -> tuple[pl.Series, pl.Series]:
    address = raw.str.strip_chars().str.to_lowercase()
    reasons = pl.select(
        pl.when(address.str.len_chars() > spec.max_length)
        .then(pl.lit(f"is longer than {spec.max_length} characters"))
        .when(address.str.contains(CONTROL_CHARACTERS))
        .then(pl.lit("holds control characters"))
        .when(address.str.contains(EMAIL_FORM).not_())
        .then(pl.lit("is not an email address"))
        .otherwise(None)
    ).to_series()
    return pl.select(pl.when(reasons.is_null()).then(address)).to_series(), reasons


def _phone(raw: pl.Series, _spec: ImportField, _options: ColumnOptions) -> tuple[pl.Series, pl.Series]:
    """Each distinct number is normalised once (digits and an optional leading +)."""
    numbers: dict[str, str | None] = {}
    why: dict[str, str] = {}
    for text in raw.drop_nulls().unique().to_list():
        try:
            numbers[text] = normalise_phone(text)
        except ValueError as error:
            numbers[text], why[text] = None, str(error)
    values = raw.replace_strict(numbers, default=None, return_dtype=pl.String)
    reasons = raw.replace_strict(why, default=None, return_dtype=pl.String)
    return values, reasons


def empty_column(name: str, spec: ImportField, height: int) -> pl.Series:
    """The column of a field the file does not have: all null, of the field's type."""
    return pl.Series(name, [None] * height, dtype=DTYPES[spec.type])


DTYPES: dict[FieldType, pl.DataType] = {
    FieldType.TEXT: pl.String(),
    FieldType.CHOICE: pl.String(),
    FieldType.MONEY: pl.Float64(),
    FieldType.QUANTITY: pl.Float64(),
    FieldType.INTEGER: pl.Int64(),
    FieldType.TIMESTAMP: pl.Datetime("us"),
    FieldType.EMAIL: pl.String(),
    FieldType.PHONE: pl.String(),
}

_PARSERS = {
    FieldType.TEXT: _text,
    FieldType.MONEY: _money,
    FieldType.QUANTITY: _quantity,
    FieldType.TIMESTAMP: _timestamp,
    FieldType.CHOICE: _choice,
    FieldType.INTEGER: _integer,
    FieldType.EMAIL: _email,
    FieldType.PHONE: _phone,
}
