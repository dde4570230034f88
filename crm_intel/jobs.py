"""The jobs behind the commands: each assembles packages, shows progress, returns figures."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from rich.progress import TaskID

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.bulk_load import clear_crm, contact_count, load_tables
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.demo import DemoConfig, generate
from crm_core.demo.logins import DEMO_SETUP, DemoLogin, create_demo_logins
from crm_core.entities import ErasureReason
from crm_core.exports import CrmExport, export_crm
from crm_core.opening import install_keys, open_scratch_crm
from crm_core.schemas.jobs import JobPublic
from crm_core.services import audit
from crm_core.services.erasure import ErasureResult, erase_person, mark_purged, pending_purges, scrub_freed_space
from crm_core.unit_of_work import UnitOfWork
from crm_intel.console import StageTimer, StepReporter, console, row_progress
from crm_intel.context import AppContext

# The model side (scikit-learn, MLflow, Feast, LightGBM) costs seconds to import: each job
# imports what it uses, so `demo-data`, `import` or `erase` start in well under a second.
if TYPE_CHECKING:
    from features.pipeline import FeatureBuildResult
    from models.drift import FeatureDrift
    from serving.batch import BatchResult
    from serving.recommend import RecommendBatchResult
    from serving.segment_refresh import SegmentRefresh
    from training.evaluation.runner import EvaluationReport
    from training.pipeline import RunResult
    from training.recommendation_pipeline import RecommenderRunResult
    from training.tracking import Rollback


def demo_data(
    ctx: AppContext, *, contacts: int, seed: int, replace: bool, activity_scale: float = 1.0
) -> dict[str, int]:
    if replace:
        clear_crm(ctx.engine)
        with UnitOfWork(make_session_factory(ctx.engine)) as uow:
            audit.record(uow, DEMO_SETUP, action="crm.clear", entity="contact", at=utc_now())
            uow.commit()
    tables = generate(DemoConfig(contacts=contacts, seed=seed, activity_scale=activity_scale))
    total = sum(frame.height for frame in tables.values())
    with row_progress() as progress:
        task = progress.add_task("inserting demo rows", total=total)
        loaded = load_tables(ctx.engine, tables, on_progress=lambda _name, rows: progress.advance(task, rows))
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        audit.record(
            uow,
            DEMO_SETUP,
            action="demo_data.load",
            entity="contact",
            details={"seed": seed, "rows": loaded},
            at=utc_now(),
        )
        logins = create_demo_logins(uow, now=utc_now())
        uow.commit()
    save_demo_logins(ctx.demo_logins_path, logins)
    return loaded


def save_demo_logins(path: Path, logins: list[DemoLogin]) -> None:
    """Readable by the owner only: these are working passwords, if only for demo data."""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.touch(mode=0o600, exist_ok=True)
    path.chmod(0o600)
    path.write_text(json.dumps([asdict(login) for login in logins], indent=2))


def export(ctx: AppContext) -> CrmExport:
    console.print("  - export CRM tables")
    return export_crm(ctx.engine)


def build_features(ctx: AppContext, crm_export: CrmExport | None = None) -> FeatureBuildResult:
    from features.pipeline import build_and_publish

    crm_export = crm_export or export(ctx)
    with StepReporter() as report, row_progress() as progress:
        task: list[TaskID] = []

        def online_progress(done: int, total: int) -> None:
            if not task:
                task.append(progress.add_task("contacts into the online store", total=total))
            progress.update(task[0], completed=done)

        result = build_and_publish(crm_export, ctx.features, on_stage=report, on_online_progress=online_progress)
    purge_pending_erasures(ctx)  # the refresh only upserts: erased people's online rows go here
    return result


ERASER = Principal.system(Role.ADMIN, "crm-intel erase")


@dataclass(frozen=True)
class ErasurePurge:
    """What an erasure removed outside the CRM's tables, per place."""

    snapshot_rows_removed: int = 0
    online_rows_removed: int = 0
    training_rows_removed: int = 0
    recommender_versions_rewritten: int = 0

    def line(self) -> str:
        return (
            f"{self.snapshot_rows_removed:,} snapshot rows, {self.online_rows_removed:,} online rows, "
            f"{self.training_rows_removed:,} training-set rows and "
            f"{self.recommender_versions_rewritten:,} registered recommender versions"
        )


def erase(ctx: AppContext, contact_id: int, reason: ErasureReason) -> tuple[ErasureResult, ErasurePurge]:
    """Erase from the CRM (one transaction), then from snapshots and the online store."""
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        result = erase_person(uow, ERASER, contact_id, reason, now=utc_now())
        uow.commit()
        scrub_freed_space(uow)
    return result, purge_pending_erasures(ctx)


def purge_pending_erasures(ctx: AppContext) -> ErasurePurge:
    """Remove every erased person not yet purged from the feature side, the training sets and
    the registered recommenders; marks them done after."""
    from features.erasure import forget_contacts
    from training.erasure import purge_training_sets
    from training.registry_erasure import forget_in_recommenders

    session_factory = make_session_factory(ctx.engine)
    with UnitOfWork(session_factory) as uow:
        pending = pending_purges(uow)
    if not pending:
        return ErasurePurge()
    features = forget_contacts(ctx.features, pending)
    purged = ErasurePurge(
        snapshot_rows_removed=features.snapshot_rows_removed,
        online_rows_removed=features.online_rows_removed,
        training_rows_removed=purge_training_sets(ctx.training.training_sets_dir, pending),
        recommender_versions_rewritten=forget_in_recommenders(
            ctx.training, pending, [entry.name for entry in ctx.catalogue.recommenders()]
        ).versions_rewritten,
    )
    with UnitOfWork(session_factory) as uow:
        mark_purged(uow, pending, now=utc_now())
        uow.commit()
    return purged


def train(
    ctx: AppContext, model_name: str, crm_export: CrmExport | None = None, write: Callable[[str], None] | None = None
) -> RunResult:
    """`write`: where the steps go (a job's log); the console by default."""
    from training.jobs import train as run_training

    crm_export = crm_export or export(ctx)
    with StepReporter(write) as report:
        return run_training(model_name, crm_export, ctx.features, ctx.training, on_stage=report)


def score(ctx: AppContext, model_name: str) -> tuple[BatchResult, str]:
    """Batch-score every contact with the champion, then refresh the segments built on scores;
    raises NoChampionError if there is no champion."""
    from serving.batch import latest_snapshot, score_all
    from serving.catalogue_publishing import publish_catalogue
    from serving.champion import load_champion

    population = ctx.catalogue.get(model_name).population_expr()
    champion = load_champion(ctx.serving.tracking_uri, model_name)
    snapshot = latest_snapshot(ctx.features.snapshot_path, champion.feature_names, population)
    with row_progress() as progress:
        task = progress.add_task(f"scoring {model_name} v{champion.version}", total=snapshot.height)
        result = score_all(
            ctx.engine,
            champion,
            snapshot,
            batch_size=ctx.serving.batch_size,
            on_chunk=lambda rows: progress.advance(task, rows),
        )
    publish_catalogue(make_session_factory(ctx.engine), ctx.catalogue)
    shadow_score(ctx, model_name)
    log_drift(ctx, model_name)
    refresh_segments_now(ctx)
    return result, champion.version


def log_drift(ctx: AppContext, model_name: str) -> None:
    from training.drift_report import log_champion_drift
    from training.tracking import Tracker

    drift = log_champion_drift(Tracker(ctx.training), model_name, ctx.features.snapshot_path)
    if drift:
        worst = drift[0]
        console.print(f"  - drift logged to MLflow: largest PSI {worst.psi:.3f} ({worst.feature}, {worst.verdict})")


def shadow_score(ctx: AppContext, model_name: str) -> BatchResult | None:
    """Score the same population with the challenger, if there is one, into the side table."""
    from serving.batch import latest_snapshot, score_all
    from serving.champion import load_challenger

    challenger = load_challenger(ctx.serving.tracking_uri, model_name)
    if challenger is None:
        return None
    population = ctx.catalogue.get(model_name).population_expr()
    snapshot = latest_snapshot(ctx.features.snapshot_path, challenger.feature_names, population)
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


@dataclass
class QuickstartResult:
    model_name: str
    contacts: int
    demo_rows: dict[str, int]
    features: FeatureBuildResult
    training: RunResult
    scoring: BatchResult
    champion_version: str
    timer: StageTimer
    more: list[str]


def quickstart(ctx: AppContext, *, contacts: int, seed: int, activity_scale: float = 1.0) -> QuickstartResult:
    timer = StageTimer()
    with timer.stage("database migrations"):
        existing = contact_count(ctx.engine)
    demo_rows: dict[str, int] = {}
    if existing:
        console.print(f"[yellow]the CRM already holds {existing:,} contacts: keeping them, no demo data added[/]")
    else:
        with timer.stage(f"demo data ({contacts:,} contacts, seed {seed})"):
            demo_rows = demo_data(ctx, contacts=contacts, seed=seed, replace=False, activity_scale=activity_scale)
    with timer.stage("export CRM tables"):
        crm_export = export(ctx)
    with timer.stage("features: snapshots, feast apply, online store"):
        features = build_features(ctx, crm_export)
    # The catalogue's first scorer is the run's headline and must succeed; every other model
    # is trained and written back where this CRM has the data for it, or reported skipped.
    first, *other_scorers = ctx.catalogue.scorers()
    with timer.stage(f"train {first.name} (calibrated graduated fit, MLflow)"):
        training = train(ctx, first.name, crm_export)
    with timer.stage(f"batch score {first.name}"):
        scoring, champion_version = score(ctx, first.name)
    more = [
        optional_step(timer, entry.name, partial(_scorer, ctx, entry.name, crm_export)) for entry in other_scorers
    ] + [
        optional_step(timer, entry.name, partial(_recommend, ctx, entry.name)) for entry in ctx.catalogue.recommenders()
    ]
    return QuickstartResult(
        model_name=first.name,
        contacts=contact_count(ctx.engine),
        demo_rows=demo_rows,
        features=features,
        training=training,
        scoring=scoring,
        champion_version=champion_version,
        timer=timer,
        more=more,
    )


def optional_step(timer: StageTimer, name: str, step: Callable[[], str]) -> str:
    """A quickstart stage that may have nothing to do on this CRM (too few deals or orders):
    its reason is reported in the summary instead of failing the whole run."""
    from models.graduated import InsufficientDataError
    from serving.champion import NoChampionError
    from training.readiness import NotReadyError
    from training.recommendation_pipeline import NoPurchasesError
    from training.split import NotEnoughHistoryError

    with timer.stage(f"{name}: train, score, write back"):
        try:
            return step()
        except (
            NotReadyError,
            InsufficientDataError,
            NoPurchasesError,
            NotEnoughHistoryError,
            NoChampionError,
        ) as error:
            return f"{name}: skipped: {error}"


def _scorer(ctx: AppContext, model_name: str, crm_export: CrmExport) -> str:
    trained = train(ctx, model_name, crm_export)
    if not trained.decision.promote and trained.champion_metric is None:
        return f"{model_name} v{trained.version}: not promoted ({trained.decision.reason})"
    result, version = score(ctx, model_name)
    auc = trained.metrics["roc_auc"]
    return f"{model_name} v{version}: {result.inserted:,} contacts scored (ROC-AUC {auc:.3f})"


def _recommend(ctx: AppContext, model_name: str) -> str:
    trained = train_recommender(ctx, model_name)
    result, version = recommend(ctx, model_name)
    ours, buy_again = trained.metrics["precision_at_10"], trained.baselines["buy_again"]["precision_at_10"]
    figures = f"P@10 {ours:.3f}, buy-again {buy_again:.3f}"
    return f"{model_name} v{version}: {result.inserted:,} recommendations written ({figures})"


def evaluate(ctx: AppContext, data_dir: Path, out_dir: Path, only: set[str] | None) -> EvaluationReport:
    """Real-data evaluation; each data set goes into its own scratch CRM under the data home."""
    from training.evaluation.report import write_report
    from training.evaluation.runner import evaluate as run_evaluation

    install_keys(ctx.core)  # the home's keys: its scratch CRMs are written with them
    with StepReporter() as report:
        result = run_evaluation(data_dir, ctx.home / "evaluation", open_scratch_crm, only=only, on_stage=report)
    markdown_file, json_file = write_report(result, out_dir)
    console.print(f"  - wrote {markdown_file} and {json_file}")
    return result


@dataclass(frozen=True)
class ModelStatus:
    model_name: str
    champion: str | None
    history: list[str]
    latest: str | None
    latest_verdict: str
    drift: list[FeatureDrift] | None


def model_status(ctx: AppContext) -> list[ModelStatus]:
    from training.drift_report import champion_drift
    from training.tracking import Tracker

    tracker = Tracker(ctx.training)
    out = []
    for name in (entry.name for entry in ctx.catalogue.scorers()):
        versions = tracker.client.search_model_versions(f"name='{name}'")
        latest = max(versions, key=lambda v: int(v.version), default=None)
        out.append(
            ModelStatus(
                model_name=name,
                champion=tracker.champion_version(name),
                history=tracker.champion_history(name),
                latest=None if latest is None else str(latest.version),
                latest_verdict="" if latest is None else str(latest.tags.get("reason", "")),
                drift=champion_drift(tracker, name, ctx.features.snapshot_path),
            )
        )
    return out


OPERATOR = Principal.system(Role.ADMIN, "operator")


def recent_jobs(ctx: AppContext, limit: int) -> list[JobPublic]:
    """The newest background jobs of everyone, as an operator sees them (dead workers' jobs
    reported as interrupted)."""
    from crm_core.jobs.runner import reap_dead_workers
    from crm_core.services.jobs import visible_jobs

    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        reap_dead_workers(uow)
        return [JobPublic.model_validate(job) for job in visible_jobs(uow, OPERATOR, limit)]


def promote(ctx: AppContext, model_name: str, version: str, *, force: bool = False) -> Rollback:
    """Make `version` champion by hand; PromotionRefusedError where its own run lost."""
    from training.tracking import Tracker

    return Tracker(ctx.training).promote(model_name, version, force=force)


def roll_back(ctx: AppContext, model_name: str) -> Rollback:
    """Give the champion back to the previous one; NothingToRollBackError if there is none."""
    from training.tracking import Tracker

    return Tracker(ctx.training).rollback(model_name)


def train_recommender(
    ctx: AppContext, model_name: str, write: Callable[[str], None] | None = None
) -> RecommenderRunResult:
    from training.jobs import train_recommender as run_training

    with StepReporter(write) as report:
        return run_training(model_name, ctx.engine, ctx.training, on_stage=report)


RECOMMENDING = Principal.system(Role.MODEL_SERVICE, "batch recommendations")


def recommend(ctx: AppContext, model_name: str) -> tuple[RecommendBatchResult, str]:
    """Every contact's list from the champion recommender; raises NoChampionError if none."""
    from serving.recommend import load_recommender, recommend_all

    champion = load_recommender(ctx.serving.tracking_uri, ctx.catalogue.get(model_name).name)
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
