"""Evaluation on the public data sets, each in its own scratch data home: through the product
path where its data set ships as mapping files, by the evaluation code for the others."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from crm_core.opening import install_keys, open_scratch_crm
from crm_intel.app.product_evaluation import RECOMMENDER_DATASET, product_cases, run_case, run_recommender_case
from crm_intel.console import StepReporter, console
from crm_intel.context import AppContext

# The model side (scikit-learn, MLflow, Feast, LightGBM) costs seconds to import: each job
# imports what it uses, so `demo-data`, `import` or `erase` start in well under a second.
if TYPE_CHECKING:
    from training.evaluation.runner import EvaluationReport


def case_keys() -> list[str]:
    from training.evaluation.runner import CASE_KEYS

    return [*(case.key for case in product_cases()), *CASE_KEYS, RECOMMENDER_DATASET]


def evaluate(ctx: AppContext, data_dir: Path, out_dir: Path, only: set[str] | None) -> EvaluationReport:
    """Real-data evaluation under the data home's `evaluation/` folder; EVALUATION.md and
    evaluation.json written to `out_dir`."""
    from training.evaluation.report import write_report
    from training.evaluation.runner import EvaluationReport
    from training.evaluation.runner import evaluate as run_evaluation

    work_dir = ctx.home / "evaluation"
    chosen = [case for case in product_cases() if only is None or case.key in only]
    rest = None if only is None else only - {case.key for case in product_cases()} - {RECOMMENDER_DATASET}
    with StepReporter() as report:
        product = [run_case(case, data_dir, work_dir, report) for case in chosen]
        recommended = (
            run_recommender_case(data_dir, work_dir, report) if only is None or RECOMMENDER_DATASET in only else None
        )
        # Each product case's home installed its own keys; the evaluation code's scratch CRMs
        # are written with this home's.
        install_keys(ctx.core)
        result = (
            run_evaluation(data_dir, work_dir, open_scratch_crm, only=rest, on_stage=report)
            if rest is None or rest
            else EvaluationReport(seed=42, scoring=[], recommendation=None, import_seconds={})
        )
    result.scoring[:0] = [scored for scored, _ in product]
    imported = {case.dataset: seconds for case, (_, seconds) in zip(chosen, product, strict=True)}
    if recommended is not None:
        result.recommendation, imported[RECOMMENDER_DATASET] = recommended
    result.import_seconds = imported | result.import_seconds
    markdown_file, json_file = write_report(result, out_dir)
    console.print(f"  - wrote {markdown_file} and {json_file}")
    return result
