from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.bands import Bands
from models.estimators import lightgbm_classifier
from models.explain import top_factors
from models.metrics import binary_metrics, lift_at_top
from models.scorers import tree_contributions


def test_lift_counts_positives_in_the_top_decile() -> None:
    truth = np.array([1] * 10 + [0] * 90)
    perfect = np.linspace(1, 0, 100)
    assert lift_at_top(truth, perfect) == pytest.approx(10.0)
    assert lift_at_top(truth, -perfect) == 0.0


def test_metrics_need_both_classes() -> None:
    with pytest.raises(ValueError, match="only one"):
        binary_metrics(np.zeros(10), np.linspace(0, 1, 10))


def test_bands_follow_the_cut_offs_and_reject_bad_ones() -> None:
    bands = Bands(medium=0.2, high=0.5)
    assert [bands.band(s) for s in (0.0, 0.19, 0.2, 0.49, 0.5, 1.0)] == [
        "low",
        "low",
        "medium",
        "medium",
        "high",
        "high",
    ]
    with pytest.raises(ValueError, match="medium < high"):
        Bands(medium=0.6, high=0.5)


def test_top_factors_are_the_largest_exact_contributions() -> None:
    rng = np.random.default_rng(0)
    features = pd.DataFrame(
        {"signal": rng.normal(size=2000), "noise": rng.normal(size=2000), "weak": rng.normal(size=2000)}
    )
    label = (features["signal"] + 0.3 * features["weak"] + rng.normal(scale=0.5, size=2000) > 0).astype(int)
    model = lightgbm_classifier(random_state=0).fit(features, label)
    factors = top_factors(tree_contributions(model, features.head(20)), features.head(20), k=2)
    assert all(len(row) == 2 for row in factors)
    contributions = model.predict(features.head(20), pred_contrib=True)
    strongest = np.abs(contributions[:, :-1]).argmax(axis=1)
    assert [row[0]["feature"] for row in factors] == [features.columns[i] for i in strongest]
    assert [row[0]["contribution"] for row in factors] == [
        round(contributions[i, c], 4) for i, c in enumerate(strongest)
    ]
    assert sum(row[0]["feature"] == "signal" for row in factors) > 10
    assert all(row[0]["feature"] != "noise" for row in factors)
    # Contributions plus the bias reproduce the model's raw score exactly (SHAP additivity).
    assert np.allclose(contributions.sum(axis=1), model.predict(features.head(20), raw_score=True))
    assert factors[0][0]["value"] == pytest.approx(features[factors[0][0]["feature"]].iloc[0])
