"""Our online encoding keeps every value exactly: nulls stay null (not NaN, not 0), NaN stays
NaN, counts come back as Int64; what it cannot keep exactly is refused."""

from __future__ import annotations

import math

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from polars.testing import assert_frame_equal

from features.online.layout import OnlineLayout, OnlineLayoutError
from features.schema import CONTACT_FEATURES_SCHEMA

LAYOUT = OnlineLayout.of_schema()
INTEGERS = [name for name, whole in zip(LAYOUT.features, LAYOUT.integer, strict=True) if whole]
DOUBLES = [name for name, whole in zip(LAYOUT.features, LAYOUT.integer, strict=True) if not whole]


def _frame(
    count: st.SearchStrategy[int | None], amount: st.SearchStrategy[float | None], rows: int
) -> st.SearchStrategy:
    columns = {name: st.lists(count, min_size=rows, max_size=rows) for name in INTEGERS}
    columns |= {name: st.lists(amount, min_size=rows, max_size=rows) for name in DOUBLES}
    return st.fixed_dictionaries(columns)


@settings(max_examples=60, deadline=None)
@given(
    _frame(
        st.none() | st.integers(-(2**53) + 1, 2**53 - 1),
        st.none() | st.floats(allow_nan=True, allow_infinity=True),
        rows=3,
    )
)
def test_every_value_round_trips_exactly(values: dict[str, list[object]]) -> None:
    frame = pl.DataFrame(values, schema={name: CONTACT_FEATURES_SCHEMA[name] for name in LAYOUT.features})
    decoded = LAYOUT.frame(LAYOUT.encode(frame), LAYOUT.features)
    assert_frame_equal(decoded, frame, check_exact=True)
    for name in DOUBLES:
        for before, after in zip(frame[name].to_list(), decoded[name].to_list(), strict=True):
            assert (before is None) == (after is None), "a null is never stored as NaN or 0"
            if before is not None and math.isnan(before):
                assert math.isnan(after)


def test_a_count_beyond_exact_float_range_is_refused_not_rounded() -> None:
    frame = pl.DataFrame(
        {name: [2**53 if name == INTEGERS[0] else 1] for name in INTEGERS} | {name: [1.0] for name in DOUBLES},
        schema={name: CONTACT_FEATURES_SCHEMA[name] for name in LAYOUT.features},
    )
    with pytest.raises(OnlineLayoutError, match=INTEGERS[0]):
        LAYOUT.encode(frame)


def test_a_blob_of_another_layout_is_refused() -> None:
    narrower = OnlineLayout(LAYOUT.features[:-1], LAYOUT.integer[:-1])
    assert narrower.version != LAYOUT.version, "the version names the feature list"
    frame = pl.DataFrame(
        {name: [1] for name in narrower.features},
        schema={name: CONTACT_FEATURES_SCHEMA[name] for name in narrower.features},
    )
    with pytest.raises(OnlineLayoutError, match="another layout"):
        LAYOUT.decode_rows(narrower.encode(frame), LAYOUT.features)
    retyped = OnlineLayout(LAYOUT.features, (not LAYOUT.integer[0], *LAYOUT.integer[1:]))
    assert retyped.version != LAYOUT.version, "and their types"


def test_the_row_read_keeps_nulls_nans_and_integer_counts() -> None:
    """Serving builds a request's frame from `decode_rows`: absent values are None (never NaN
    or 0), a stored NaN stays NaN, and counts come back as Python ints."""
    frame = pl.DataFrame(
        {name: [3, None, -7] for name in INTEGERS} | {name: [0.5, None, float("nan")] for name in DOUBLES},
        schema={name: CONTACT_FEATURES_SCHEMA[name] for name in LAYOUT.features},
    )
    blobs = LAYOUT.encode(frame)
    wanted = [DOUBLES[0], INTEGERS[0], DOUBLES[-1]]
    rows = LAYOUT.decode_rows(blobs, wanted)
    assert rows[0][:2] == [0.5, 3] and isinstance(rows[0][1], int)
    assert rows[1] == [None, None, None]
    assert math.isnan(rows[2][2]) and rows[2][1] == -7
    assert_frame_equal(LAYOUT.frame(blobs, wanted), frame.select(wanted), check_exact=True)
