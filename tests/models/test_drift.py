"""PSI: zero for the same population, growing with the shift, missing values counted."""

from __future__ import annotations

import numpy as np
import pytest

from models.drift import MOVES_WITH_TIME, FeatureDrift, feature_drift, psi, worst_real_drift


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


def test_a_feature_moving_as_it_did_over_the_same_span_of_its_history_moves_with_time() -> None:
    aged = FeatureDrift("tenure_days", psi=1.4, span_psi=1.2)
    assert aged.by_construction and aged.verdict == MOVES_WITH_TIME
    faster = FeatureDrift("tenure_days", psi=2.0, span_psi=1.2)
    assert not faster.by_construction and faster.verdict == "shifted", "more than the calendar explains"
    steady_before = FeatureDrift("orders_count_90d", psi=0.3, span_psi=0.02)
    assert not steady_before.by_construction and steady_before.verdict == "shifted", "a still feature that moved"
    unknown = FeatureDrift("orders_count_90d", psi=0.3)
    assert unknown.verdict == "shifted", "no history to explain it: judged on its own"


def test_the_worst_real_drift_skips_what_the_calendar_explains() -> None:
    rng = np.random.default_rng(2)
    train, now = rng.normal(size=5_000), rng.normal(size=5_000)
    drift = feature_drift(
        {"tenure_days": train, "visits": train, "spend": train},
        {"tenure_days": now + 3.0, "visits": now + 0.5, "spend": now},
        span_psi={"tenure_days": 10.0, "visits": 0.01},
    )
    assert [d.feature for d in drift][:2] == ["tenure_days", "visits"]
    assert drift[0].by_construction and drift[0].span_psi == 10.0
    worst = worst_real_drift(drift)
    assert worst is not None and worst.feature == "visits" and worst.verdict == "shifted"
    assert worst_real_drift([drift[0]]) is None


def test_a_feature_that_grows_for_everyone_moves_with_time_however_far() -> None:
    aged = FeatureDrift("tenure_days", psi=3.0, span_psi=0.5, grows_with_time=True)
    assert aged.by_construction and aged.verdict == MOVES_WITH_TIME
