"""The promotion gate on one holdout: chance for a first model, the champion after that, and
every baseline the run measured beside the candidate."""

from __future__ import annotations

from training.promotion import decide


def test_a_candidate_must_beat_every_baseline_on_the_same_holdout() -> None:
    """The sparse-grocery case: promoted at P@10 0.005 beside buy-again 0.019 and popularity
    0.018 because only chance and the champion were asked."""
    baselines = {"buy_again": 0.019, "popularity": 0.018}
    losing = decide(metric="precision_at_10", candidate=0.005, champion=None, min_improvement=0.0, baselines=baselines)
    assert not losing.promote and "buy_again baseline 0.0190" in losing.reason
    tied = decide(metric="precision_at_10", candidate=0.019, champion=None, min_improvement=0.0, baselines=baselines)
    assert not tied.promote, "a tie with a baseline is no reason to show a model"
    winning = decide(metric="precision_at_10", candidate=0.02, champion=None, min_improvement=0.0, baselines=baselines)
    assert winning.promote
    behind_champion = decide(
        metric="precision_at_10", candidate=0.02, champion=0.03, min_improvement=0.0, baselines=baselines
    )
    assert not behind_champion.promote and "champion 0.0300" in behind_champion.reason


def test_a_first_scorer_must_beat_chance() -> None:
    assert not decide(metric="roc_auc", candidate=0.5, champion=None, min_improvement=0.0).promote
    assert decide(metric="roc_auc", candidate=0.51, champion=None, min_improvement=0.0).promote
