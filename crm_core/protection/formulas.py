"""Spreadsheet formula injection: a CSV cell a spreadsheet would run as a formula is defused.

A contact named "=HYPERLINK(...)" or "@SUM(...)" becomes live code when a marketer opens the
export in a spreadsheet. Cells starting with a formula trigger get a leading apostrophe, which
spreadsheets display as text (the OWASP recommendation); the value stays readable.
"""

from __future__ import annotations

import polars as pl

FORMULA_TRIGGERS = ("=", "+", "-", "@", "\t", "\r", "\n", "|", "%")


def defuse(value: str) -> str:
    return "'" + value if value.startswith(FORMULA_TRIGGERS) else value


def defuse_text_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of `frame` with formula-like cells defused (numbers and dates untouched)."""
    pattern = "^[" + "".join("\\" + trigger if trigger in "+-|%" else trigger for trigger in FORMULA_TRIGGERS) + "]"
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(pattern)).then(pl.lit("'") + pl.col(name)).otherwise(pl.col(name)).alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )
