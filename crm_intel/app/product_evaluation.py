"""Evaluation through the product path: each public data set goes into a scratch data home by
the commands a user runs (`import-dataset`, `build-features`, `train`), and the figures are read
back from that home's model registry, as the model page reads them. Nothing here fits a model or
turns a column into an input: what the report says is what a company's `train` does."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from crm_core.datasets.shipped import shipped_dataset
from crm_core.errors import CrmError
from crm_intel.app.modelling import BACKTESTS
from features.catalogue_file import parse_entries

if TYPE_CHECKING:
    from features.model_registry.records import VersionRecord
    from training.evaluation.runner import ScoringResult
    from training.evaluation.scoring_cases import Target

StageCallback = Callable[[str], None]
# Settings a scratch home must not inherit: the production servers and keys of the home that
# runs the evaluation (public data sets never land in a live CRM).
INHERITED_PREFIX = "CRM_"
LOG_FILE = "commands.log"
PRODUCT_HOMES = "product"  # beside the evaluation code's scratch CRMs, never in their place


class EvaluationStepError(CrmError, RuntimeError):
    """A command of the product path failed on a data set: which one, and where its output is."""


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


def scratch_environment(home: Path) -> dict[str, str]:
    """The environment of a user on a fresh machine with this scratch home: the embedded
    default, its own keys, nothing of the calling home's."""
    kept = {name: value for name, value in os.environ.items() if not name.startswith(INHERITED_PREFIX)}
    return kept | {"CRM_HOME": str(home)}


def run_command(home: Path, *args: str) -> float:
    """`crm-intel ARGS` on the scratch home, its output appended to the home's log; seconds taken."""
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "crm_intel.cli", *args],
        env=scratch_environment(home),
        cwd=home,
        capture_output=True,
        text=True,
        check=False,
    )
    log = home / LOG_FILE
    with log.open("a", encoding="utf-8") as out:
        out.write(f"$ crm-intel {' '.join(args)}\n{done.stdout}{done.stderr}\n")
    if done.returncode != 0:
        raise EvaluationStepError(f"`crm-intel {' '.join(args)}` exited {done.returncode}; its output is in {log}")
    return time.perf_counter() - started


def run_case(case: ProductCase, data_dir: Path, work_dir: Path, stage: StageCallback) -> tuple[ScoringResult, float]:
    """The case's figures, and the seconds its import took."""
    home = work_dir / PRODUCT_HOMES / case.dataset
    shutil.rmtree(home, ignore_errors=True)
    home.mkdir(parents=True)
    stage(f"{case.title}: crm-intel import-dataset {case.dataset}")
    import_seconds = run_command(home, "import-dataset", case.dataset, "--data-dir", str(data_dir.resolve()))
    stage(f"{case.title}: crm-intel build-features")
    run_command(home, "build-features")
    stage(f"{case.title}: crm-intel train {case.model}")
    train_seconds = run_command(home, "train", case.model)
    result = read_result(case, home, train_seconds)
    if case.walk_forward:
        stage(f"{case.title}: crm-intel models backtest {case.model}")
        run_command(home, "models", "backtest", case.model)
        walked = json.loads((home / BACKTESTS / f"{case.model}.json").read_text(encoding="utf-8"))
        result.walked_forward = {"walk": walked["walk"], **walked["pooled"]}
    return result, import_seconds


def read_result(case: ProductCase, home: Path, train_seconds: float) -> ScoringResult:
    """The newest version's run, read from the scratch home's registry."""
    from features.model_registry import ModelRegistry
    from models.curves import CURVES_ARTIFACT
    from training.evaluation.runner import ScoringResult, TargetCheck

    registry = ModelRegistry(f"sqlite:///{home / 'mlflow.db'}")
    record: VersionRecord = registry.versions(case.model)[0]
    params, metrics = record.params, record.metrics
    curves = registry.document(record.run_id, CURVES_ARTIFACT) or {}
    holdout = {name.removeprefix("holdout_"): value for name, value in metrics.items() if name.startswith("holdout_")}
    entry = next(entry for entry in parse_entries(shipped_dataset(case.dataset).models_toml, case.dataset))
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
