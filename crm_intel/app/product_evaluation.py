"""Evaluation through the product path: each public data set goes into a scratch data home by
the application functions the commands a user runs are made of (`import-dataset`,
`build-features`, `train`, `models backtest`), and the figures are read back from that home's
model registry, as the model page reads them. Nothing here fits a model or turns a column into
an input: what the report says is what a company's `train` does."""

from __future__ import annotations

import shutil
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crm_intel.app.datasets import load_dataset
from crm_intel.app.features import build_features
from crm_intel.app.modelling import backtest, train, train_recommender
from crm_intel.context import AppContext

if TYPE_CHECKING:
    from training.evaluation.runner import RecommendationResult, ScoringResult
    from training.evaluation.scoring_cases import Target

StageCallback = Callable[[str], None]
PRODUCT_HOMES = "product"  # beside the evaluation code's scratch CRMs, never in their place
WALK_STEPS = 10
RECOMMENDER_DATASET = "instacart"  # judged by the recommender its models.toml defines
RECOMMENDER_MODEL = "recommend"


@dataclass(frozen=True)
class ProductCase:
    key: str
    dataset: str  # a shipped data set (crm_core/datasets/<name>)
    model: str  # the model its models.toml defines and the case judges
    title: str
    targets: tuple[Target, ...]
    kept_out: tuple[str, ...]  # the file's columns that are never inputs, and why
    walk_forward: bool = False  # also `models backtest`: refitted at each step of the newest rows


def product_cases() -> tuple[ProductCase, ...]:
    from training.evaluation.scoring_cases import CALIBRATED, Target

    return (
        ProductCase(
            "telco_churn",
            "telco",
            "churn",
            "Telco churn",
            (Target("roc_auc", 0.85, True, "README: ROC-AUC commonly 0.84-0.85; LR 0.845"), CALIBRATED),
            ("Churn (the outcome)", "customerID (an id)"),
        ),
        ProductCase(
            "bank_marketing",
            "bank",
            "lead",
            "Bank Marketing (no duration, call order)",
            (Target("roc_auc", 0.81, True, "README: ~0.80 without duration (paper); HGB 0.806"), CALIBRATED),
            ("y (the outcome)", "duration (known only after the call; not imported)"),
            walk_forward=True,
        ),
        ProductCase(
            "olist_open_leads",
            "olist",
            "lead",
            "Olist funnel (every open lead, monthly)",
            (CALIBRATED,),
            (
                "the deal-side columns (segment, lead type, catalogue size: known once won; not imported)",
                "landing page (495 values: too many to be an input)",
            ),
            walk_forward=True,
        ),
    )


@contextmanager
def scratch_home(
    dataset: str, data_dir: Path, work_dir: Path, stage: StageCallback
) -> Iterator[tuple[AppContext, float]]:
    """A fresh data home holding the data set as `import-dataset` loads it, and the seconds the
    import took. Leaves the scratch home's keys as the process's keyring: the caller installs its
    own again."""
    home = work_dir / PRODUCT_HOMES / dataset
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    ctx = AppContext.scratch(home)
    try:
        stage(f"import-dataset {dataset}")
        started = time.perf_counter()
        load_dataset(ctx, dataset, data_dir)
        yield ctx, time.perf_counter() - started
    finally:
        ctx.engine.dispose()


def run_case(case: ProductCase, data_dir: Path, work_dir: Path, stage: StageCallback) -> tuple[ScoringResult, float]:
    """The case's figures, and the seconds its import took."""
    with scratch_home(case.dataset, data_dir, work_dir, stage) as (ctx, import_seconds):
        stage(f"{case.title}: build-features")
        build_features(ctx)
        stage(f"{case.title}: train {case.model}")
        started = time.perf_counter()
        trained = train(ctx, case.model)
        result = read_result(case, ctx, trained.version, time.perf_counter() - started)
        if case.walk_forward:
            stage(f"{case.title}: models backtest {case.model}")
            walked, _ = backtest(ctx, case.model, WALK_STEPS)
            result.walked_forward = {"walk": walked.walk, **walked.pooled}
    return result, import_seconds


def run_recommender_case(data_dir: Path, work_dir: Path, stage: StageCallback) -> tuple[RecommendationResult, float]:
    """Instacart as a company's order history: imported, then `train recommend` as its
    models.toml defines it; the figures are the run's own (candidate and baselines on one
    holdout) and the verdict the registry recorded."""
    from training.evaluation.runner import RecommendationResult, TargetCheck

    with scratch_home(RECOMMENDER_DATASET, data_dir, work_dir, stage) as (ctx, import_seconds):
        stage(f"Instacart: train {RECOMMENDER_MODEL}")
        started = time.perf_counter()
        trained = train_recommender(ctx, RECOMMENDER_MODEL)
        seconds = time.perf_counter() - started
        entry = ctx.catalogue.get(RECOMMENDER_MODEL)
        verdict = ctx.registry.version(RECOMMENDER_MODEL, trained.version).verdict
    ours, again = trained.metrics["precision_at_10"], trained.baselines["buy_again"]["precision_at_10"]
    days = f"{entry.horizon_days} day{'s' if entry.horizon_days != 1 else ''}"
    result = RecommendationResult(
        key=RECOMMENDER_DATASET,
        holdout=f"the newest {days} of purchases (each shopper's last basket: the orders are dated back from it)",
        users=trained.holdout_users,
        history_purchases=trained.history_purchases,
        mode=trained.mode,
        validation=trained.validation,
        metrics={"blend": trained.metrics, **trained.baselines},
        verdict=verdict,
        fit_seconds=seconds,
        checks=[
            TargetCheck(
                "precision_at_10",
                ours,
                f"> buy again ({again:.3f} here)",
                ours > again,
                "README: buy again P@10 0.401, ALS 0.326",
            )
        ],
    )
    return result, import_seconds


def read_result(case: ProductCase, ctx: AppContext, version: str, train_seconds: float) -> ScoringResult:
    """The trained version's run, read from the scratch home's registry."""
    from models.curves import CURVES_ARTIFACT
    from training.evaluation.runner import ScoringResult, TargetCheck

    record = ctx.registry.version(case.model, version)
    params, metrics, holdout = record.params, record.metrics, record.holdout
    curves = ctx.registry.document(record.run_id, CURVES_ARTIFACT) or {}
    entry = ctx.catalogue.get(case.model)
    refused = [name.strip() for name in params.get("refused_as_leaky", "").split(",") if name.strip()]
    checks = [
        TargetCheck(metric, holdout[metric], target.describe(), target.met(holdout[metric]), target.reference)
        for target in case.targets
        for metric in (target.metric,)
    ]
    return ScoringResult(
        key=case.key,
        title=case.title,
        split=params["split"],
        population=params["population"],
        rows={
            "train": int(params["fit_rows"]) + int(params["calibration_rows"]),
            "holdout": int(params["holdout_rows"]),
        },
        positive_rate={
            "fit": float(params["readiness_train_positives"]) / max(float(params["readiness_train_rows"]), 1.0),
            "holdout": holdout["positive_rate"],
        },
        holdout_period=None,
        model=params["scorer"],
        calibration=params["calibration"],
        candidate_auc={
            name.removeprefix("calibration_auc_"): value
            for name, value in metrics.items()
            if name.startswith("calibration_auc_")
        },
        logistic_baseline_auc=holdout.get("roc_auc_logistic", float("nan")),
        metrics=holdout,
        reliability=curves.get("reliability", []),
        fit_seconds=train_seconds,
        features=[*entry.custom_fields],
        excluded=[*case.kept_out, *(f"{name} (refused as leaky)" for name in refused)],
        checks=checks,
        path="product",
        input_columns=int(params["feature_count"]),
    )
