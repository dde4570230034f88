"""Evaluation on the public data sets, each in its own scratch CRM."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crm_core.opening import install_keys, open_scratch_crm
from crm_intel.console import StepReporter, console
from crm_intel.context import AppContext

# The model side (scikit-learn, MLflow, Feast, LightGBM) costs seconds to import: each job
# imports what it uses, so `demo-data`, `import` or `erase` start in well under a second.
if TYPE_CHECKING:
    from training.evaluation.runner import EvaluationReport


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
