"""PSI: zero for the same population, growing with the shift, missing values counted."""

from __future__ import annotations

import numpy as np
import pytest

from models.drift import feature_drift, psi


def test_psi_is_near_zero_for_the_same_population_and_grows_with_a_shift() -> None:
    rng = np.random.default_rng(0)
    train = rng.normal(size=50_000)
    assert psi(train, rng.normal(size=50_000)) < 0.01
    small, large = psi(train, rng.normal(0.2, 1, 50_000)), psi(train, rng.normal(1.0, 1, 50_000))
    assert 0.01 < small < 0.1
    assert large > 0.25


def test_psi_matches_the_formula_on_a_hand_made_case() -> None:
    # Two equal halves in training (edge at the median) become a 25/75 split.
    train = np.array([0.0, 0.0, 1.0, 1.0])
    now = np.array([0.0, 1.0, 1.0, 1.0])
    expected = (0.25 - 0.5) * np.log(0.25 / 0.5) + (0.75 - 0.5) * np.log(0.75 / 0.5)
    assert psi(train, now, bins=2) == pytest.approx(expected, rel=1e-3)


def test_a_feature_that_starts_going_missing_is_flagged() -> None:
    rng = np.random.default_rng(1)
    train = rng.normal(size=10_000)
    now = rng.normal(size=10_000)
    now[:4_000] = np.nan
    drift = feature_drift({"spend": train, "visits": train}, {"spend": now, "visits": rng.normal(size=10_000)})
    assert [d.feature for d in drift] == ["spend", "visits"]
    assert drift[0].verdict == "shifted" and drift[1].verdict == "stable"
