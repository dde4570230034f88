"""Score-and-publish: batch scores written back, the challenger shadow-scored, drift logged, segments refreshed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.bulk_load import contact_count
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_intel.console import console, row_progress
from crm_intel.context import AppContext
from features.model_input import model_rows

# The model side (scikit-learn, MLflow, Feast, LightGBM) costs seconds to import: each job
# imports what it uses, so `demo-data`, `import` or `erase` start in well under a second.
if TYPE_CHECKING:
    from features.populations import NewestPopulation
    from serving.batch import BatchResult
    from serving.recommend import RecommendBatchResult
    from serving.segment_refresh import SegmentRefresh


def score(ctx: AppContext, model_name: str) -> tuple[BatchResult, str]:
    """Batch-score the model's population with the champion and state the reason for every other
    contact, then refresh the segments built on scores; raises NoChampionError if there is no
    champion."""
    from serving.batch import population_snapshot, score_all, write_states
    from serving.catalogue_publishing import publish_catalogue
    from serving.champion import load_champion

    champion = load_champion(ctx.registry, model_name)
    population = population_snapshot(ctx.features, ctx.catalogue.get(model_name))
    snapshot = model_rows(population.members, champion.feature_names)
    with row_progress() as progress:
        task = progress.add_task(f"scoring {model_name} v{champion.version}", total=snapshot.height)
        result = score_all(
            ctx.engine,
            champion,
            snapshot,
            batch_size=ctx.serving.batch_size,
            on_chunk=lambda rows: progress.advance(task, rows),
        )
        result.stated, _ = write_states(ctx.engine, model_name, population, batch_size=ctx.serving.batch_size)
    result.feature_timestamp = result.feature_timestamp or population.as_of
    publish_catalogue(make_session_factory(ctx.engine), ctx.catalogue)
    shadow_score(ctx, model_name, population)
    log_drift(ctx, model_name, population)
    refresh_segments_now(ctx)
    return result, champion.version


def log_drift(ctx: AppContext, model_name: str, population: NewestPopulation) -> None:
    from training.drift_report import log_champion_drift

    drift = log_champion_drift(ctx.registry, model_name, population.members)
    if drift:
        from models.drift import worst_real_drift

        worst = worst_real_drift(drift)
        said = "every move the calendar's" if worst is None else f"{worst.feature}, {worst.verdict}"
        largest = 0.0 if worst is None else worst.psi
        console.print(f"  - drift logged to MLflow: largest PSI the calendar does not explain {largest:.3f} ({said})")


def shadow_score(ctx: AppContext, model_name: str, population: NewestPopulation) -> BatchResult | None:
    """Score the same population with the challenger, if there is one, into the side table."""
    from serving.batch import score_all
    from serving.champion import load_challenger

    challenger = load_challenger(ctx.registry, model_name)
    if challenger is None:
        return None
    snapshot = model_rows(population.members, challenger.feature_names)
    result = score_all(ctx.engine, challenger, snapshot, batch_size=ctx.serving.batch_size, shadow=True)
    console.print(f"  - challenger {model_name} v{challenger.version} shadow-scored {result.inserted:,} contacts")
    return result


def refresh_segments_now(ctx: AppContext) -> SegmentRefresh:
    from serving.segment_refresh import refresh_segments

    refreshed = refresh_segments(ctx.engine, ctx.features.snapshot_path, utc_now())
    console.print(
        f"  - segments refreshed: {len(refreshed.rule_sizes)} rule, {len(refreshed.cluster_sizes)} behaviour clusters"
    )
    return refreshed


RECOMMENDING = Principal.system(Role.MODEL_SERVICE, "batch recommendations")


def recommend(ctx: AppContext, model_name: str) -> tuple[RecommendBatchResult, str]:
    """Every contact's list from the champion recommender; raises NoChampionError if none."""
    from serving.recommend import load_recommender, recommend_all

    champion = load_recommender(ctx.registry, ctx.catalogue.get(model_name).name)
    with row_progress() as progress:
        task = progress.add_task(f"recommending with v{champion.version}", total=contact_count(ctx.engine))
        result = recommend_all(
            ctx.engine,
            champion,
            RECOMMENDING,
            batch_size=ctx.serving.batch_size // champion.k,
            on_chunk=lambda rows: progress.advance(task, rows),
        )
    return result, champion.version
