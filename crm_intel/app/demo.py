"""The demo: a generated CRM history, its sign-ins, and the quickstart that runs the whole loop on it."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from crm_core.bulk_load import clear_crm, contact_count, load_tables
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.demo import DemoConfig, generate
from crm_core.demo.logins import DEMO_SETUP, DemoLogin, create_demo_logins
from crm_core.exports import CrmExport
from crm_core.services import audit
from crm_core.unit_of_work import UnitOfWork
from crm_intel.app.features import build_features, export
from crm_intel.app.modelling import train, train_recommender
from crm_intel.app.scoring import recommend, score
from crm_intel.console import StageTimer, console, row_progress
from crm_intel.context import AppContext

# The model side (scikit-learn, MLflow, Feast, LightGBM) costs seconds to import: each job
# imports what it uses, so `demo-data`, `import` or `erase` start in well under a second.
if TYPE_CHECKING:
    from features.pipeline import FeatureBuildResult
    from serving.batch import BatchResult
    from training.pipeline import RunResult


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
    from features.model_registry import NoChampionError
    from models.graduated import InsufficientDataError
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
