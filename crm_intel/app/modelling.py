"""Training, promotion and roll-back of the catalogue's models, and their status."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crm_core.errors import CrmError
from crm_core.exports import CrmExport
from crm_intel.app.features import export
from crm_intel.console import StepReporter, console
from crm_intel.context import AppContext

# The model side (scikit-learn, MLflow, Feast, LightGBM) costs seconds to import: each job
# imports what it uses, so `demo-data`, `import` or `erase` start in well under a second.
BACKTESTS = "backtests"  # where each model's newest backtest is kept, under the data home

if TYPE_CHECKING:
    from features.model_registry import Rollback
    from models.drift import FeatureDrift
    from training.backtest import BacktestResult
    from training.outcome_check import OutcomeCheck
    from training.pipeline import RunResult
    from training.readiness import ReadinessCheck
    from training.recommendation_pipeline import RecommenderRunResult


def train(
    ctx: AppContext, model_name: str, crm_export: CrmExport | None = None, write: Callable[[str], None] | None = None
) -> RunResult:
    """`write`: where the steps go (a job's log); the console by default."""
    from training.jobs import train as run_training

    crm_export = crm_export or export(ctx)
    with StepReporter(write) as report:
        return run_training(model_name, crm_export, ctx.features, ctx.training, on_stage=report)


def readiness(ctx: AppContext, model_name: str) -> ReadinessCheck:
    """What training the scorer would learn from and what is short, with nothing fitted."""
    from training.jobs import check_readiness

    return check_readiness(model_name, export(ctx), ctx.features, ctx.training, catalogue=ctx.catalogue)


def backtest(ctx: AppContext, model_name: str, steps: int) -> tuple[BacktestResult, Path]:
    """The scorer walked forward through its history, refitted at each step; the figures are
    also written to `backtests/<model>.json` in the data home (for the evaluation and notebooks)."""
    from training.jobs import backtest_model

    with console.status(f"walking {model_name} forward in {steps} steps"):
        result = backtest_model(model_name, export(ctx), ctx.features, ctx.training, ctx.catalogue, steps)
    out = ctx.home / BACKTESTS / f"{model_name}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result.as_json(), indent=2) + "\n", encoding="utf-8")
    return result, out


def train_recommender(
    ctx: AppContext, model_name: str, write: Callable[[str], None] | None = None
) -> RecommenderRunResult:
    from training.jobs import train_recommender as run_training

    with StepReporter(write) as report:
        return run_training(model_name, ctx.engine, ctx.training, on_stage=report)


def promote(ctx: AppContext, model_name: str, version: str, *, force: bool = False) -> Rollback:
    """Make `version` champion by hand; PromotionRefusedError where its own run lost."""
    return ctx.registry.promote(model_name, version, force=force)


def roll_back(ctx: AppContext, model_name: str) -> Rollback:
    """Give the champion back to the previous one; NothingToRollBackError if there is none."""
    return ctx.registry.rollback(model_name)


@dataclass(frozen=True)
class ModelStatus:
    model_name: str
    champion: str | None
    history: list[str]
    latest: str | None
    latest_verdict: str
    drift: list[FeatureDrift] | None


def model_status(ctx: AppContext) -> list[ModelStatus]:
    from features.model_registry.records import UnknownRegisteredModelError
    from training.drift_report import champion_drift

    registry = ctx.registry
    out = []
    for entry in ctx.catalogue.scorers():
        name = entry.name
        try:
            latest = registry.versions(name)[0]
        except (UnknownRegisteredModelError, IndexError):
            latest = None
        out.append(
            ModelStatus(
                model_name=name,
                champion=registry.champion_version(name),
                history=registry.champion_history(name),
                latest=None if latest is None else latest.version,
                latest_verdict="" if latest is None else latest.verdict,
                drift=champion_drift(registry, entry, ctx.features),
            )
        )
    return out


class NotCheckableError(CrmError, ValueError):
    """A model whose scores have no outcome a later month reveals."""


def check_outcomes(ctx: AppContext, model_name: str, crm_export: CrmExport | None = None) -> OutcomeCheck:
    """The champion's scores checked against what happened, month by month, kept on its run
    for the model page (raises NoChampionError when there is no champion)."""
    from crm_core.exports import export_scores
    from features.catalogue import History, ModelKind
    from features.snapshots import data_end
    from training.outcome_check import check_outcomes as check

    entry = ctx.catalogue.get(model_name)
    if entry.kind is not ModelKind.SCORER or entry.history is not History.DATED:
        raise NotCheckableError(
            f"'{model_name}' has no horizon after which its outcome is known (a recommender, or a list with no dates)"
        )
    record = ctx.registry.verified_champion(model_name)
    crm_export = crm_export or export(ctx)
    checked = check(
        crm_export,
        entry,
        export_scores(ctx.engine, model_name),
        data_end=data_end(crm_export),
        holdout_roc_auc=record.holdout.get("roc_auc"),
        margin=ctx.schedules.outcome_warning_margin,
    )
    ctx.registry.log_outcome_check(record, checked.as_document())
    return checked
