"""Spreadsheet formula injection: a CSV cell a spreadsheet would run as a formula is defused.

A contact named "=HYPERLINK(...)" or "@SUM(...)" becomes live code when a marketer opens the
export in a spreadsheet. Cells starting with a formula trigger get a leading apostrophe, which
spreadsheets display as text (the OWASP recommendation); the value stays readable. Spreadsheets
skip leading blanks (a space, a no-break space, an ideographic space) and some read full-width
signs ("＝") as their ASCII forms, so a trigger after blanks, or in full width, counts too.
"""

from __future__ import annotations

import re

import polars as pl

ASCII_TRIGGERS = "=+-@|%\t\r\n"
FULL_WIDTH_TRIGGERS = "＝＋－＠｜％"
# Written out, not `\s`: the pattern runs in Python's `re` and polars' Rust engine alike, and
# their `\s` differ (and neither covers the zero-width space or the byte-order mark).
LEADING_BLANKS = " \t\r\n\u00a0\u1680\u2000-\u200b\u2028\u2029\u202f\u205f\u3000\ufeff"
FORMULA_PATTERN = "^[" + LEADING_BLANKS + "]*[" + re.escape(ASCII_TRIGGERS + FULL_WIDTH_TRIGGERS) + "]"
_FORMULA = re.compile(FORMULA_PATTERN)


def defuse(value: str) -> str:
    return "'" + value if _FORMULA.match(value) else value


def defuse_text_columns(frame: pl.DataFrame) -> pl.DataFrame:
    """Every text column of `frame` with formula-like cells defused (numbers and dates untouched)."""
    return frame.with_columns(
        pl.when(pl.col(name).str.contains(FORMULA_PATTERN))
        .then(pl.lit("'") + pl.col(name))
        .otherwise(pl.col(name))
        .alias(name)
        for name, dtype in frame.schema.items()
        if dtype == pl.String
    )
