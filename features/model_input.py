"""The one conversion from feature frames to model input, shared by training and serving.

Models are logged with a float64 signature; integer counts (and Feast's int-with-null columns)
are cast here so training and serving can never disagree on dtypes or column order.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import polars as pl

from crm_core.errors import CrmError
from features.custom_inputs import absent_indicators
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP

# Up to this many rows (an online request's contacts) the frame is converted column by column.
SMALL_FRAME_ROWS = 1_000


class MissingFeaturesError(CrmError, ValueError):
    """The frame lacks columns the model was trained on."""


def to_model_input(frame: pl.DataFrame, feature_names: Sequence[str]) -> pd.DataFrame:
    frame = absent_indicators(frame, feature_names)
    present = frame.columns  # a fresh list on every access: read once
    missing = [name for name in feature_names if name not in present]
    if missing:
        raise MissingFeaturesError(f"feature columns missing: {missing}")
    if frame.height > SMALL_FRAME_ROWS:
        return frame.select([pl.col(name).cast(pl.Float64) for name in feature_names]).to_pandas()
    # A lazy select and Arrow's pandas conversion cost half a millisecond whatever the size,
    # most of a one-contact online score, and casting column by column still cost forty-odd
    # Series calls; for a handful of rows, the rows as Python tuples (one call) become the
    # matrix in one numpy call, nulls turning into NaN as the float cast does.
    position = {name: index for index, name in enumerate(present)}
    wanted = [position[name] for name in feature_names]
    matrix = np.array([[row[index] for index in wanted] for row in frame.rows()], dtype=np.float64)
    matrix = matrix.reshape(frame.height, len(feature_names))
    return pd.DataFrame(matrix, columns=list(feature_names), index=pd.RangeIndex(frame.height))


def model_rows(frame: pl.DataFrame, feature_names: Sequence[str]) -> pl.DataFrame:
    """(contact_id, event_timestamp, the model's features) of a snapshot frame, a value column
    no longer held by anyone read as 0 (`absent_indicators`)."""
    return absent_indicators(frame, feature_names).select(ENTITY_KEY, EVENT_TIMESTAMP, *feature_names)
