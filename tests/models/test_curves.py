"""The holdout curves kept with a run: every row for the curves, a fixed sample for importance."""

from __future__ import annotations

import pytest

from models.calibration import calibrate
from models.curves import IMPORTANCE_ROWS, feature_importance, holdout_curves, importance_sample
from models.scorers import LogisticScorer
from tests.support.synthetic import synthetic


def test_the_importance_sample_is_bounded_and_the_same_on_a_rerun() -> None:
    x, _ = synthetic(IMPORTANCE_ROWS + 2_500, seed=3)
    first, second = importance_sample(x), importance_sample(x)
    assert len(first) == IMPORTANCE_ROWS and first.index.is_unique
    assert first.index.equals(second.index)
    assert not first.index.equals(x.index[:IMPORTANCE_ROWS])  # drawn across the holdout, not its head
    small = x.head(500)
    assert importance_sample(small) is small


def test_curves_use_every_row_and_a_sample_ranks_importance_as_the_whole_holdout_does() -> None:
    x, y = synthetic(60_000, seed=5)
    model = calibrate(LogisticScorer(0).fit(x[:20_000], y[:20_000]), x[20_000:25_000], y[20_000:25_000])
    x_holdout, y_holdout = x[25_000:].reset_index(drop=True), y[25_000:]

    curves = holdout_curves(model, x_holdout, y_holdout)

    assert curves["rows"] == 35_000 and curves["importance_rows"] == IMPORTANCE_ROWS
    assert sum(row["records"] for row in curves["reliability"]) == 35_000
    whole = dict(feature_importance(model.contributions(x_holdout)))
    assert [name for name, _ in curves["feature_importance"]] == sorted(whole, key=lambda name: -whole[name])
    for name, strength in curves["feature_importance"]:
        assert strength == pytest.approx(whole[name], rel=0.05)
    # The pipeline passes the probabilities it already has: the same curves, without a second scoring.
    scores = model.predict_proba(x_holdout)[:, 1]
    assert holdout_curves(model, x_holdout, y_holdout, scores) == curves
