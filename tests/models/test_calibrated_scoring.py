"""Scorers, calibration, the graduated path and reasons, on data whose truth we control."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibration import ISOTONIC_MIN_MINORITY, calibrate, choose_method
from models.explain import reasons
from models.graduated import DataMinimums, InsufficientDataError, fit_graduated
from models.metrics import expected_calibration_error, reliability_table
from models.scorers import LightGbmScorer, LogisticScorer, RateTableScorer, Scorer
from tests.support.synthetic import synthetic


def test_ece_is_zero_for_exact_rates_and_counts_each_bin_by_its_size() -> None:
    # Two bins: 0.15 predicted for 4 rows of which 1 happened (gap 0.1), 0.85 for 6 rows, all happened (gap 0.15).
    prob = np.array([0.15] * 4 + [0.85] * 6)
    truth = np.array([1, 0, 0, 0] + [1] * 6)
    assert expected_calibration_error(truth, prob) == pytest.approx((4 * 0.10 + 6 * 0.15) / 10)
    rng = np.random.default_rng(1)
    honest = rng.random(200_000)
    outcomes = (rng.random(200_000) < honest).astype(int)
    assert expected_calibration_error(outcomes, honest) < 0.005
    assert expected_calibration_error(outcomes, honest**2) > 0.05
    table = reliability_table(outcomes, honest)
    assert len(table) == 10 and sum(row["records"] for row in table) == 200_000


@pytest.mark.parametrize("factory", [LightGbmScorer, LogisticScorer, RateTableScorer])
def test_reasons_and_base_value_add_up_to_the_raw_score(factory: type[Scorer]) -> None:
    x, y = synthetic(3_000, seed=2)
    scorer = factory(0).fit(x, y)  # type: ignore[call-arg]
    parts = scorer.contributions(x.head(200))
    assert parts.values.shape == (200, 3)
    assert np.allclose(parts.values.sum(axis=1) + parts.base, scorer.raw_score(x.head(200)), atol=1e-9)


def test_rate_table_picks_the_telling_feature_and_shrinks_small_bins() -> None:
    x, y = synthetic(2_000, seed=3)
    scorer = RateTableScorer(0).fit(x, y)
    assert scorer.feature == "signal"
    parts = scorer.contributions(x)
    assert np.all(parts.values[:, [1, 2]] == 0.0), "only the chosen feature carries a reason"
    assert np.corrcoef(x["signal"], scorer.raw_score(x))[0, 1] > 0.8


def test_calibration_on_a_later_slice_follows_its_outcome_rates() -> None:
    # The world moved: outcomes got more likely after training. Calibrating on the later slice
    # brings predicted rates back in line; the ranking (ROC-AUC) is untouched by the monotone map.
    x_train, y_train = synthetic(6_000, seed=4)
    x_later, y_later = synthetic(6_000, seed=5, base_shift=1.0)
    x_holdout, y_holdout = synthetic(6_000, seed=6, base_shift=1.0)
    scorer = LogisticScorer(0).fit(x_train, y_train)
    uncalibrated = 1 / (1 + np.exp(-scorer.raw_score(x_holdout)))
    model = calibrate(scorer, x_later, y_later)
    calibrated = model.predict_proba(x_holdout)[:, 1]
    assert expected_calibration_error(y_holdout, uncalibrated) > 0.1
    assert expected_calibration_error(y_holdout, calibrated) < 0.03
    assert model.calibrator.method == "isotonic"
    assert np.allclose(model.predict_proba(x_holdout).sum(axis=1), 1.0)


def test_small_calibration_slices_get_platt_scaling() -> None:
    few = np.array([1] * (ISOTONIC_MIN_MINORITY - 1) + [0] * 5_000)
    many = np.array([1] * ISOTONIC_MIN_MINORITY + [0] * 5_000)
    assert choose_method(few) == "sigmoid"
    assert choose_method(many) == "isotonic"


def _labels_with(positives: int, rows: int) -> np.ndarray:
    return np.array([1] * positives + [0] * (rows - positives))


@pytest.mark.parametrize(
    ("positives", "expected"),
    [(60, {"rules"}), (200, {"logistic"}), (900, {"logistic", "lightgbm"})],
)
def test_the_path_grows_with_the_labels(positives: int, expected: set[str]) -> None:
    x, y = synthetic(4_000, seed=7)
    order = np.argsort(-y, kind="stable")  # positives first, then keep exactly `positives` of them
    keep = np.concatenate([order[:positives], order[(y == 1).sum() :]])
    x_train, y_train = x.iloc[keep].reset_index(drop=True), y[keep]
    x_cal, y_cal = synthetic(2_000, seed=8)
    fit = fit_graduated(x_train, y_train, x_cal, y_cal, minimums=DataMinimums(), seed=0)
    assert set(fit.candidate_auc) == expected
    assert fit.chosen == max(fit.candidate_auc, key=lambda kind: fit.candidate_auc[kind])
    assert fit.model.predict_proba(x_cal).shape == (2_000, 2)


def test_below_the_minimums_there_is_no_score_but_a_clear_answer() -> None:
    x, _ = synthetic(500, seed=9)
    with pytest.raises(InsufficientDataError, match=r"training slice: 500 rows, 12 positive, 488 negative"):
        fit_graduated(x, _labels_with(12, 500), x, _labels_with(100, 500), minimums=DataMinimums(), seed=0)
    with pytest.raises(InsufficientDataError, match="calibration slice"):
        fit_graduated(x, _labels_with(100, 500), x, _labels_with(3, 500), minimums=DataMinimums(), seed=0)


def test_reasons_split_up_and_down_and_never_name_a_hidden_feature() -> None:
    x, y = synthetic(3_000, seed=10)
    scorer = LogisticScorer(0).fit(x, y)
    parts = scorer.contributions(x.head(50))
    every = reasons(parts, x.head(50), k=2)
    assert all(r["contribution"] > 0 for row in every for r in row["positive"])
    assert all(r["contribution"] < 0 for row in every for r in row["negative"])
    assert any(r["feature"] == "signal" for row in every for r in row["positive"] + row["negative"])
    hidden = reasons(parts, x.head(50), k=3, visible=lambda name: name != "signal")
    named = {r["feature"] for row in hidden for r in row["positive"] + row["negative"]}
    assert "signal" not in named and named <= {"drag", "noise"}
    row = next(i for i in range(50) if parts.values[i].max() > 0)  # a contact with a reason raising its score
    strongest_up = max(range(3), key=lambda c: parts.values[row, c])
    assert every[row]["positive"][0]["feature"] == parts.feature_names[strongest_up]


def test_the_logistic_scorers_own_standardising_matches_its_fitted_pipeline() -> None:
    x, y = synthetic(2_000, seed=6)
    x["empty"] = np.nan  # a feature with no value in training: imputed as 0, like the pipeline's
    scorer = LogisticScorer(0).fit(x, y)
    probe = x.sample(300, random_state=1).reset_index(drop=True)
    probe.loc[::7, "signal"] = np.nan
    expected = scorer.pipeline[:-1].transform(probe.to_numpy(dtype=np.float64)) * scorer.pipeline[-1].coef_[0]
    assert np.allclose(scorer.contributions(probe).values, expected, rtol=0, atol=1e-12)


@pytest.mark.parametrize("factory", [LightGbmScorer, LogisticScorer, RateTableScorer])
@pytest.mark.parametrize("calibration_size", [400, 4_000])  # few positives: sigmoid; plenty: isotonic
def test_explain_gives_predict_probas_probabilities_and_the_same_contributions(
    factory: type[Scorer], calibration_size: int
) -> None:
    x, y = synthetic(3_000, seed=7)
    x_cal, y_cal = synthetic(calibration_size, seed=8)
    model = calibrate(factory(0).fit(x, y), x_cal, y_cal)  # type: ignore[call-arg]
    assert model.calibrator.method == choose_method(y_cal)
    probe = x.head(250)
    probability, contributions = model.explain(probe)
    assert np.allclose(probability, model.predict_proba(probe)[:, 1], rtol=0, atol=1e-9)
    assert np.array_equal(contributions.values, model.contributions(probe).values)


def test_platt_calibration_matches_scikit_learns_own_probabilities() -> None:
    x, y = synthetic(3_000, seed=9)
    x_cal, y_cal = synthetic(300, seed=10)
    model = calibrate(LogisticScorer(0).fit(x, y), x_cal, y_cal)
    assert model.calibrator.method == "sigmoid"
    raw = model.raw_score(x.head(500))
    fitted = model.calibrator._map
    assert np.allclose(model.calibrator.probability(raw), fitted.predict_proba(raw.reshape(-1, 1))[:, 1], atol=1e-15)
