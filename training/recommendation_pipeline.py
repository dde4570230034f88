"""The recommender's run: purchases -> time holdout -> candidate and baselines -> gate -> registry.

The same stages as the scoring pipeline, in the shape ranking needs: the newest `holdout_days`
of purchases (the catalogue entry's horizon: what is bought within it) are held out; the
candidate (the repeat-aware blend) and the baselines are fitted on what came before and judged
on precision@10 for the shoppers who bought in the holdout. The champion's configuration is
refitted on the same history, so both are judged on equal terms. What is registered is the
candidate refitted on every purchase, so it knows each shopper's latest staples.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import implicit
import numpy as np
import polars as pl
import sklearn
from sqlalchemy import Engine

from crm_core.detail_exports import export_order_lines
from crm_core.errors import CrmError
from features.model_registry import RunRecord
from models.interactions import AT, ITEM, USER, UserItemStats
from models.ranking import ranking_metrics
from models.recommenders import (
    BLEND_MODES,
    BlendMode,
    BlendRecommender,
    BuyAgainRecommender,
    PopularityRecommender,
    Recommender,
)
from training.promotion import PromotionDecision, decide

if TYPE_CHECKING:
    from features.model_registry import ModelRegistry

StageCallback = Callable[[str], None]
PRIMARY_METRIC = "precision_at_10"


class NoPurchasesError(CrmError, ValueError):
    """Too few purchases (or none after the cut-off) to fit and judge a recommender."""


@dataclass(frozen=True)
class RecommenderSpec:
    model_name: str = "recommend"
    holdout_days: int = 30
    half_life_days: float = 90.0
    factors: int = 64
    candidates: int = 50
    seed: int = 42
    k: int = 10
    min_improvement: float = 0.0
    mode: BlendMode | None = None  # None: chosen by the run on a validation slice

    def params(self) -> dict[str, Any]:
        return asdict(self) | {"mode": "" if self.mode is None else self.mode.value}

    def candidate(self) -> BlendRecommender:
        return BlendRecommender(seed=self.seed, factors=self.factors, candidates=self.candidates, mode=self.mode)

    @classmethod
    def from_params(cls, params: dict[str, str]) -> RecommenderSpec:
        """The configuration a past run logged, to refit it on today's history."""
        defaults = cls()
        return cls(
            model_name=params.get("model_name", defaults.model_name),
            holdout_days=int(params.get("holdout_days", defaults.holdout_days)),
            half_life_days=float(params.get("half_life_days", defaults.half_life_days)),
            factors=int(params.get("factors", defaults.factors)),
            candidates=int(params.get("candidates", defaults.candidates)),
            seed=int(params.get("seed", defaults.seed)),
            k=int(params.get("k", defaults.k)),
            mode=BlendMode(params["mode"]) if params.get("mode") else None,
        )


@dataclass(frozen=True)
class RecommenderRunResult:
    model_name: str
    version: str
    run_id: str
    metrics: dict[str, float]
    baselines: dict[str, dict[str, float]]
    champion_metric: float | None
    decision: PromotionDecision
    history_purchases: int
    holdout_users: int
    repeat_domain: bool
    mode: str  # how lists are filled (a BlendMode, or the repeat-share rule when no slice was held)
    validation: dict[str, float]  # each mode's precision on the validation slice


def purchase_events(engine: Engine) -> pl.DataFrame:
    """One row per product bought in a completed order: who, what, when."""
    lines = export_order_lines(engine).filter(pl.col("order_status") != "cancelled")
    return lines.select(
        pl.col("contact_id").alias(USER), pl.col("product_id").alias(ITEM), pl.col("ordered_at").alias(AT)
    )


def _newest(events: pl.DataFrame) -> datetime:
    newest = events[AT].max()
    assert isinstance(newest, datetime)
    return newest


def time_holdout(events: pl.DataFrame, holdout_days: int) -> tuple[pl.DataFrame, dict[int, set[int]]]:
    cutoff = _newest(events) - timedelta(days=holdout_days)
    history = events.filter(pl.col(AT) <= cutoff)
    later = events.filter(pl.col(AT) > cutoff).group_by(USER).agg(pl.col(ITEM).unique())
    return history, {int(user): {int(item) for item in items} for user, items in later.iter_rows()}


def _precision(recommender: Recommender, relevant: dict[int, set[int]], k: int) -> dict[str, float]:
    lists = recommender.recommend(sorted(relevant), k)
    return ranking_metrics({user: [rec.item_id for rec in recs] for user, recs in lists.items()}, relevant, k)


def _digest(events: pl.DataFrame) -> str:
    return hashlib.sha256(np.sort(events.hash_rows(seed=0).to_numpy()).tobytes()).hexdigest()[:16]


def mode_on_validation(spec: RecommenderSpec, history: pl.DataFrame) -> dict[BlendMode, float]:
    """Each way of filling lists, fitted on the history before its own newest `holdout_days` and
    judged on those days: the mode is chosen on data the holdout never sees. Empty when the
    history is too short to hold a slice back (then the candidate's own rule decides)."""
    earlier, relevant = time_holdout(history, spec.holdout_days)
    if earlier.height == 0 or not relevant:
        return {}
    stats = UserItemStats.from_events(earlier, spec.half_life_days)
    return {
        mode: _precision(replace(spec, mode=mode).candidate().fit(stats), relevant, spec.k)[PRIMARY_METRIC]
        for mode in BLEND_MODES
    }


def run_recommender(
    spec: RecommenderSpec,
    engine: Engine,
    registry: ModelRegistry,
    training_sets_dir: Path,
    on_stage: StageCallback | None = None,
) -> RecommenderRunResult:
    stage = on_stage or (lambda _name: None)
    stage("purchases and time holdout")
    events = purchase_events(engine)
    if events.height == 0:
        raise NoPurchasesError("no completed orders with lines: nothing to learn recommendations from")
    digest = _digest(events)
    training_sets_dir.mkdir(parents=True, exist_ok=True)
    snapshot_file = training_sets_dir / f"{spec.model_name}-{digest}.parquet"
    events.write_parquet(snapshot_file)
    history, relevant = time_holdout(events, spec.holdout_days)
    if history.height == 0 or not relevant:
        raise NoPurchasesError(f"need purchases both before and within the last {spec.holdout_days} days")
    history_stats = UserItemStats.from_events(history, spec.half_life_days)

    stage("choose how lists are filled, on a validation slice of the history")
    validation = mode_on_validation(spec, history)
    if spec.mode is None and validation:
        spec = replace(spec, mode=max(validation, key=lambda mode: (validation[mode], -BLEND_MODES.index(mode))))

    stage(f"fit candidate and baselines on {history.height:,} purchases")
    candidate = spec.candidate().fit(history_stats)
    metrics = _precision(candidate, relevant, spec.k)
    baselines = {
        name: _precision(recommender.fit(history_stats), relevant, spec.k)
        for name, recommender in (("buy_again", BuyAgainRecommender()), ("popularity", PopularityRecommender()))
    }

    stage("champion comparison on the same holdout")
    champion_version = registry.champion_version(spec.model_name)
    champion_metric = None
    if champion_version is not None:
        champion_spec = RecommenderSpec.from_params(registry.version(spec.model_name, champion_version).params)
        champion_metric = _precision(champion_spec.candidate().fit(history_stats), relevant, spec.k)[PRIMARY_METRIC]
    decision = decide(
        metric=PRIMARY_METRIC,
        candidate=metrics[PRIMARY_METRIC],
        champion=champion_metric,
        min_improvement=spec.min_improvement,
        baselines={name: figures[PRIMARY_METRIC] for name, figures in baselines.items()},
    )

    stage("refit on every purchase, log and register")
    final = spec.candidate().fit(UserItemStats.from_events(events, spec.half_life_days))
    run = RunRecord(
        model_name=spec.model_name,
        requirements=[f"implicit=={implicit.__version__}", f"scikit-learn=={sklearn.__version__}"],
        params=spec.params()
        | {"data_digest": digest, "history_purchases": history.height, "holdout_users": len(relevant)},
        holdout_metrics=metrics,
        other_metrics={
            f"baseline_{name}_{metric}": value
            for name, figures in baselines.items()
            for metric, value in figures.items()
            if metric != "users"
        }
        | {f"validation_{mode.value}_{PRIMARY_METRIC}": value for mode, value in validation.items()},
        champion=None if champion_metric is None else (str(champion_version), PRIMARY_METRIC, champion_metric),
        data_snapshot=snapshot_file,
        promotion_reason=decision.reason,
    )
    logged = registry.log_recommender_run(
        run, final, k=spec.k, example_users=sorted(relevant)[:5], data_timestamp=_newest(events)
    )
    registry.record_verdict(spec.model_name, logged.version, promote=decision.promote, reason=decision.reason)
    return RecommenderRunResult(
        model_name=spec.model_name,
        version=logged.version,
        run_id=logged.run_id,
        metrics=metrics,
        baselines=baselines,
        champion_metric=champion_metric,
        decision=decision,
        history_purchases=history.height,
        holdout_users=len(relevant),
        repeat_domain=candidate.repeat_domain,
        mode=spec.mode.value if spec.mode is not None else "repeat-share rule",
        validation={mode.value: figure for mode, figure in validation.items()},
    )
