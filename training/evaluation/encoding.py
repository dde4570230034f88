"""Turning a mixed-type frame into model input: numbers stay numbers, text becomes indicators.

Levels are learnt from the training slice only (the most frequent `max_levels`, the rest fold
into "other"), so nothing about later rows shapes the columns a model is given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import pandas as pd
import polars as pl

OTHER = "(other)"


@dataclass
class CategoryEncoder:
    max_levels: int = 30
    levels: dict[str, list[str]] = field(default_factory=dict)
    numeric: list[str] = field(default_factory=list)

    def fit(self, frame: pl.DataFrame, columns: list[str]) -> CategoryEncoder:
        self.levels, self.numeric = {}, []
        for name in columns:
            if frame.schema[name] == pl.String:
                counts = frame[name].fill_null("(missing)").value_counts(sort=True)
                self.levels[name] = counts[name].head(self.max_levels).to_list()
            else:
                self.numeric.append(name)
        return self

    @property
    def feature_names(self) -> list[str]:
        names = list(self.numeric)
        for column, levels in self.levels.items():
            names.extend(f"{column}={level}" for level in levels)
            names.append(f"{column}={OTHER}")
        return names

    def transform(self, frame: pl.DataFrame) -> pd.DataFrame:
        expressions = [pl.col(name).cast(pl.Float64) for name in self.numeric]
        for column, levels in self.levels.items():
            value = pl.col(column).fill_null("(missing)")
            expressions.extend((value == level).cast(pl.Float64).alias(f"{column}={level}") for level in levels)
            expressions.append((~value.is_in(levels)).cast(pl.Float64).alias(f"{column}={OTHER}"))
        return frame.select(expressions).to_pandas()


def describe_feature(name: str) -> str:
    """Business wording of an encoded column: "contract is Month-to-month", "tenure months"."""
    if "=" in name:
        column, level = name.split("=", 1)
        return f"{column.replace('_', ' ')} is {level}"
    return name.replace("_", " ")
