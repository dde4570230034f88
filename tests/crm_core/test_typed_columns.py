"""A file's text cells become typed values a column at a time; a cell that does not parse is
refused with why, never guessed at."""

from __future__ import annotations

from datetime import datetime

import polars as pl
import pytest

from crm_core.errors import ValidationFailedError
from crm_core.imports.mapping_files import parse_mapping
from crm_core.imports.typed_columns import ColumnOptions, FieldType, ImportField, parse_column


def _parse(
    field: ImportField, cells: list[str | None], options: ColumnOptions | None = None
) -> list[tuple[object, object]]:
    parsed = parse_column("f", field, pl.Series(cells, dtype=pl.String), options or ColumnOptions())
    return list(zip(parsed.values.to_list(), parsed.problems.to_list(), strict=True))


def test_amounts_read_the_files_own_number_forms() -> None:
    money = ImportField(FieldType.MONEY)
    assert _parse(money, ["1,234.50", "€12", "0.5", None, "12.345", "-3", "1e5"]) == [
        (1234.5, None),
        (12.0, None),
        (0.5, None),
        (None, None),
        (None, "has more than 2 decimal places"),
        (None, "is below 0"),
        (None, "is not an amount"),
    ]
    assert _parse(money, ["1.234,50", "12,5"], ColumnOptions(decimal_comma=True)) == [(1234.5, None), (12.5, None)]


def test_quantities_take_three_places_and_zero() -> None:
    assert _parse(ImportField(FieldType.QUANTITY), ["0", "1.25", "2.0005"]) == [
        (0.0, None),
        (1.25, None),
        (None, "has more than 3 decimal places"),
    ]


def test_timestamps_take_iso_or_the_files_form_and_refuse_the_ambiguous() -> None:
    when = ImportField(FieldType.TIMESTAMP, required=True)
    values = _parse(when, ["2025-03-01", "2025-03-01T10:00:00+01:00", "03/01/2025", None, "1850-01-01"])
    assert values[0] == (datetime(2025, 3, 1), None)
    assert values[1] == (datetime(2025, 3, 1, 9, 0), None), "a zone is converted to UTC"
    assert values[2][0] is None and "is not a date" in str(values[2][1])
    assert values[3] == (None, "is required")
    assert values[4] == (None, "is outside the supported dates (1900 to 2199)")
    assert _parse(when, ["01.03.2025"], ColumnOptions(date_format="%d.%m.%Y")) == [(datetime(2025, 3, 1), None)]
    assert _parse(when, ["2025-03-01"], ColumnOptions(date_format="%Q%")) == [(None, "is not a date in the form %Q%")]
    with pytest.raises(ValidationFailedError, match="not a date form"):
        _parse(when, ["10"], ColumnOptions(date_format="%H"))


def test_choices_translate_the_files_words_and_name_the_allowed_values() -> None:
    status = ImportField(FieldType.CHOICE, choices=("placed", "cancelled"))
    assert _parse(status, [" Placed ", "C", "lost"], ColumnOptions(values={"c": "cancelled"})) == [
        ("placed", None),
        ("cancelled", None),
        (None, "is not one of placed, cancelled (a mapping file's values can translate it)"),
    ]


def test_text_refuses_control_characters_overlong_values_and_wrong_forms() -> None:
    sku = ImportField(max_length=8, pattern=r"^[A-Z0-9-]+$", description="a SKU")
    assert _parse(sku, ["AB-1", "A\x07B", "ABCDEFGHIJ", "ab c"]) == [
        ("AB-1", None),
        (None, "holds control characters"),
        (None, "is longer than 8 characters"),
        (None, "does not look like a SKU"),
    ]


@pytest.mark.parametrize(
    ("text", "said"),
    [
        ("[columns\n", "not valid TOML"),
        ('colums = {a = "b"}', "colums"),
        ("[fields.total]\ndecimal_comma = 3\n", "fields.total.decimal_comma"),
    ],
)
def test_a_broken_mapping_file_is_named_with_where_it_breaks(text: str, said: str) -> None:
    with pytest.raises(ValidationFailedError) as refused:
        parse_mapping(text, "orders.toml")
    assert said in refused.value.reason and "orders.toml" in refused.value.reason
