"""A file with no dates, only the days between one customer's events (Instacart's orders, an
app's event log): the mapping file says which columns those are, and every event gets the date
the gaps give it, each customer's last on the day the mapping names."""

from __future__ import annotations

from datetime import date

import polars as pl
import pytest

from crm_core.errors import ValidationFailedError
from crm_core.imports.mapping_files import parse_mapping
from crm_core.imports.record_kinds import ORDERS, PRODUCTS
from crm_core.imports.relative_dates import RelativeDates, dates_from_gaps

SPEC = RelativeDates("user", "n", "gap", date(2026, 1, 1), hour="hour")


def _file(rows: list[tuple[str, str, str | None, str]]) -> pl.DataFrame:
    return pl.DataFrame(rows, schema=["user", "n", "gap", "hour"], orient="row")


def test_each_event_is_placed_by_the_gaps_after_it_from_the_last_one() -> None:
    file = _file(
        [
            ("a", "1", None, "8"),
            ("a", "1", None, "8"),  # a second line of the same order
            ("a", "2", "10", "9"),
            ("b", "2", "3.0", "23"),  # rows need not be in order
            ("b", "1", None, "0"),
            ("a", "3", "2.5", "7"),
        ]
    )
    assert dates_from_gaps(file, SPEC).to_list() == [
        "2025-12-20 08:00:00",  # 12.5 days before a's last order: 12 whole days, at its hour
        "2025-12-20 08:00:00",
        "2025-12-30 09:00:00",  # 2.5 days before
        "2026-01-01 23:00:00",
        "2025-12-29 00:00:00",
        "2026-01-01 07:00:00",
    ]
    without_hours = dates_from_gaps(file, RelativeDates("user", "n", "gap", date(2026, 1, 1)))
    assert without_hours.to_list()[:3] == ["2025-12-19 12:00:00", "2025-12-19 12:00:00", "2025-12-29 12:00:00"]


def test_an_event_a_missing_gap_cuts_off_gets_no_date_and_nothing_is_guessed() -> None:
    file = _file(
        [("a", "1", None, "8"), ("a", "2", None, "8"), ("a", "3", "4", "8"), ("c", "x", "1", "8"), ("c", "2", "1", "8")]
    )
    placed = dates_from_gaps(file, SPEC).to_list()
    assert placed[:3] == [None, "2025-12-28 08:00:00", "2026-01-01 08:00:00"], (
        "the gap before order 2 is missing: order 1 cannot be placed; 2 and 3 can"
    )
    assert placed[3] is None and placed[4] == "2026-01-01 08:00:00", "an order number that is no number"


RELATIVE = """
kind = "orders"
[columns]
external_id = "order"
contact = "user"
sku = "item"
[fields.ordered_at.relative]
customer = "user"
sequence = "n"
days_since_previous = "gap"
last_on = 2026-01-01
"""


def test_a_mapping_file_says_which_columns_place_the_dates_and_mistakes_are_named() -> None:
    mapping = parse_mapping(RELATIVE, "orders.toml").mapping()
    frame = pl.DataFrame(
        {"order": ["o1", "o2"], "user": ["u", "u"], "n": ["1", "2"], "gap": [None, "7"], "item": ["A"] * 2}
    )
    fed = mapping.feed(ORDERS, frame, {"external_id": "order", "contact": "user", "sku": "item"})
    assert fed["ordered_at"].to_list() == ["2025-12-25 00:00:00", "2026-01-01 00:00:00"]
    with pytest.raises(ValidationFailedError, match="relative dates name columns the file lacks: gap"):
        mapping.feed(ORDERS, frame.drop("gap"), {"external_id": "order"})
    with pytest.raises(ValidationFailedError, match="ordered_at: fed by a column and by the mapping at once"):
        mapping.feed(ORDERS, frame.with_columns(pl.lit("x").alias("when")), {"ordered_at": "when"})
    not_a_date = parse_mapping(RELATIVE.replace("fields.ordered_at", "fields.sku"), "x.toml").mapping()
    with pytest.raises(ValidationFailedError, match="relative dates for sku: not a date of orders"):
        not_a_date.feed(ORDERS, frame, {})
    with pytest.raises(ValidationFailedError, match="last_on"):
        parse_mapping(RELATIVE.replace("2026-01-01", '"soon"'), "y.toml")
    with pytest.raises(ValidationFailedError, match="constants for price: not a field of products"):
        parse_mapping('[constants]\nprice = "0"\n', "p.toml").mapping().feed(PRODUCTS, frame, {})
