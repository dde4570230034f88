"""The one conversion from feature frames to model input, shared by training and serving.

Models are logged with a float64 signature; integer counts (and Feast's int-with-null columns)
are cast here so training and serving can never disagree on dtypes or column order.
"""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd
import polars as pl


class MissingFeaturesError(ValueError):
    """The frame lacks columns the model was trained on."""


def to_model_input(frame: pl.DataFrame, feature_names: Sequence[str]) -> pd.DataFrame:
    missing = [name for name in feature_names if name not in frame.columns]
    if missing:
        raise MissingFeaturesError(f"feature columns missing: {missing}")
    return frame.select([pl.col(name).cast(pl.Float64) for name in feature_names]).to_pandas()
