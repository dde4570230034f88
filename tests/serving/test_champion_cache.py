from __future__ import annotations

import pytest

from crm_core.exports import export_crm
from crm_intel.context import AppContext
from serving.champion import ChampionCache, load_champion
from training.jobs import train
from training.pipeline import RunResult

pytestmark = pytest.mark.slow


class ManualClock:
    """A clock the test moves by hand (stands in for time.monotonic)."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_promotion_reaches_the_cache_after_the_refresh_interval(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, trained = trained_crm
    registry = ctx.registry
    clock = ManualClock()
    cache = ChampionCache(registry, load_champion, refresh_seconds=30, clock=clock)
    original = cache.get("churn")
    assert original.version == registry.champion_version("churn")
    assert cache.get("churn") is original, "loaded once, then kept"

    challenger = train("churn", export_crm(ctx.engine), ctx.features, ctx.training)
    registry.promote("churn", challenger.version, force=True)
    try:
        clock.now = 29
        assert cache.get("churn").version == original.version, "no registry call inside the interval"
        clock.now = 31
        promoted = cache.get("churn")
        assert (promoted.version, promoted.run_id) == (challenger.version, challenger.run_id)
        clock.now = 62
        assert cache.get("churn") is promoted, "an unchanged alias keeps the loaded model"
    finally:
        registry.promote("churn", original.version, force=True)
    assert trained.version == original.version
