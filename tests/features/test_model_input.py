"""Model input from feature frames: the small-frame path (online requests) and the large-frame
path (batches) give the same float64 matrix, nulls as NaN, columns in the model's order."""

from __future__ import annotations

import numpy as np
import pandas as pd
import polars as pl
import pytest

from features import model_input
from features.model_input import MissingFeaturesError, to_model_input


def _frame(rows: int) -> pl.DataFrame:
    rng = np.random.default_rng(rows)
    counts = pl.Series("orders_90d", rng.integers(0, 9, rows)).set(pl.Series(rng.random(rows) < 0.2), None)
    return pl.DataFrame(
        {
            "contact_id": np.arange(rows),
            "spend_90d": rng.normal(100, 30, rows),
            "orders_90d": counts,
            "opted_in": rng.random(rows) < 0.5,
        }
    )


@pytest.mark.parametrize("rows", [1, 7, 1_500])
def test_both_paths_give_the_same_matrix(rows: int, monkeypatch: pytest.MonkeyPatch) -> None:
    frame = _frame(rows)
    names = ["orders_90d", "spend_90d", "opted_in"]  # not the frame's order, on purpose
    monkeypatch.setattr(model_input, "SMALL_FRAME_ROWS", rows)
    small = to_model_input(frame, names)
    monkeypatch.setattr(model_input, "SMALL_FRAME_ROWS", 0)
    large = to_model_input(frame, names)
    pd.testing.assert_frame_equal(small, large)
    assert list(small.columns) == names and set(small.dtypes) == {np.dtype("float64")}
    assert small["orders_90d"].isna().sum() == frame["orders_90d"].null_count()


def test_a_missing_feature_column_is_named() -> None:
    with pytest.raises(MissingFeaturesError, match="tenure_days"):
        to_model_input(_frame(3), ["spend_90d", "tenure_days"])
