"""Exporting the CRM and rebuilding its features: snapshots, Feast definitions, the online store."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich.progress import TaskID

from crm_core.exports import CrmExport, export_crm
from crm_intel.app.privacy import purge_pending_erasures
from crm_intel.console import StepReporter, console, row_progress
from crm_intel.context import AppContext

# The model side (scikit-learn, MLflow, Feast, LightGBM) costs seconds to import: each job
# imports what it uses, so `demo-data`, `import` or `erase` start in well under a second.
if TYPE_CHECKING:
    from features.pipeline import FeatureBuildResult


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

        result = build_and_publish(
            crm_export, ctx.features, on_stage=report, on_online_progress=online_progress, catalogue=ctx.catalogue
        )
    purge_pending_erasures(ctx)  # the refresh only upserts: erased people's online rows go here
    return result
