"""One-screen summaries printed at the end of long jobs."""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from crm_intel.console import console
from features.catalogue import BUILT_IN
from features.catalogue_file import CATALOGUE_FILE
from features.schema import custom_field_of, is_custom

# Named for the signatures only: importing the training and serving side loads scikit-learn,
# LightGBM and MLflow, seconds that `crm-intel import` or `segments` would pay for nothing.
if TYPE_CHECKING:
    from crm_core.schemas.imports import ImportReport
    from crm_core.schemas.jobs import JobPublic
    from crm_intel.app.demo import QuickstartResult
    from crm_intel.app.modelling import ModelStatus
    from crm_intel.context import AppContext
    from features.catalogue import ModelEntry
    from models.drift import FeatureDrift
    from serving.batch import BatchResult
    from training.backtest import BacktestResult
    from training.evaluation.runner import EvaluationReport
    from training.outcome_check import OutcomeCheck
    from training.pipeline import RunResult
    from training.readiness import ReadinessCheck
    from training.recommendation_pipeline import RecommenderRunResult


def training_table(result: RunResult) -> Table:
    table = Table(title=f"{result.model_name} v{result.version} (run {result.run_id[:8]})", show_edge=False)
    table.add_column("holdout metric")
    table.add_column("value", justify="right")
    for name in ("roc_auc", "ece", "pr_auc", "brier", "lift_top_decile", "positive_rate"):
        table.add_row(name, f"{result.metrics[name]:.4f}")
    table.add_row("scorer (graduated path)", result.scorer)
    ready = result.readiness
    table.add_row(
        "labels: fit / calibration / holdout",
        " / ".join(f"{c.positives:,} of {c.rows:,}" for c in (ready.train, ready.calibration, ready.holdout)),
    )
    most_missing = max(ready.columns, key=lambda c: c.missing_share, default=None)
    if most_missing is not None:
        table.add_row("most missing feature", f"{most_missing.column} ({most_missing.missing_share:.0%})")
    for leaky in ready.refused:
        table.add_row("refused as leaky", escape(leaky.reason()))
    table.add_row("bands (calibrated)", f"medium from {result.bands.medium:.0%}, high from {result.bands.high:.0%}")
    table.add_row("train / holdout rows", f"{result.train_rows:,} / {result.holdout_rows:,}")
    table.add_row("data digest", result.data_digest)
    verdict = "[green]promoted to champion[/]" if result.decision.promote else "[yellow]kept as challenger[/]"
    table.add_row("promotion", f"{verdict}: {result.decision.reason}")
    return table


PROBLEMS_SHOWN = 10


def jobs_table(jobs: list[JobPublic]) -> Table:
    table = Table(title="Background jobs (newest first)")
    for column in ("id", "kind", "status", "by", "created", "seconds", "progress", "message"):
        # The message wraps; the rest must stay readable (and findable) on a narrow terminal.
        table.add_column(
            column, justify="right" if column in ("id", "seconds", "by") else "left", no_wrap=column != "message"
        )
    for job in jobs:
        progress = f"{job.progress_done:,}/{job.progress_total:,}" if job.progress_total else ""
        seconds = f"{job.seconds:.1f}" if job.seconds is not None else ""
        table.add_row(
            str(job.id),
            job.kind,
            job.status,
            str(job.requested_by_id or ""),
            f"{job.created_at:%m-%d %H:%M}",
            seconds,
            progress,
            escape(job.message),
        )
    return table


def import_table(report: ImportReport) -> Table:
    """Counts, then the first problems; the full list is in the problems file."""
    table = Table(title=f"import of {report.source} ({report.rows:,} rows)", show_edge=False)
    table.add_column("outcome")
    table.add_column("rows", justify="right")
    table.add_row(f"new {report.kind}", f"{report.inserted:,}")
    if report.kind == "contacts":
        table.add_row("merged into existing contacts", f"{report.merged:,}")
    for written, count in report.details.items():
        table.add_row(f"  with {written.replace('_', ' ')}", f"{count:,}")
    table.add_row("already present, unchanged", f"{report.unchanged:,}")
    table.add_row("duplicates folded within the file", f"{report.duplicates_in_file:,}")
    table.add_row("[red]rejected[/]", f"{len({problem.row for problem in report.rejected}):,}")
    table.add_row("[yellow]flagged[/]", f"{len(report.flagged):,}")
    for problem in [*report.rejected, *report.flagged][:PROBLEMS_SHOWN]:
        table.add_row(f"  row {problem.row}: {problem.field}", problem.reason)
    return table


def scoring_line(result: BatchResult, model_name: str, version: str) -> str:
    return (
        f"{model_name} v{version}: {result.contacts:,} contacts scored, {result.inserted:,} predictions written, "
        f"{result.already_present:,} already present, {result.rejected:,} rejected, "
        f"{result.stated:,} outside the population given their reason "
        f"(features as of {result.feature_timestamp:%Y-%m-%d})"
    )


def print_quickstart(ctx: AppContext, result: QuickstartResult) -> None:
    console.print(result.timer.table())
    console.print(training_table(result.training))
    lines = [
        f"contacts in the CRM: {result.contacts:,}"
        + (f" ({sum(result.demo_rows.values()):,} demo rows inserted)" if result.demo_rows else ""),
        f"feature snapshots: {result.features.snapshot_rows:,} rows over {len(result.features.as_of_dates)} dates, "
        f"{result.features.contacts_latest:,} contacts online",
        scoring_line(result.scoring, result.model_name, result.champion_version),
        *result.more,
        f"demo logins (one per role): {ctx.demo_logins_path}",
        f"data home: {ctx.home}",
        f"CRM database: {ctx.core.resolved_database_url()}",
        f"MLflow: {ctx.training.tracking_uri} (artifacts {ctx.training.artifact_root})",
        f"Feast: {ctx.features.feast_dir}",
        "next: `crm-intel serve`, then open http://127.0.0.1:3000/app/ and sign in with a demo login",
    ]
    console.print(Panel("\n".join(lines), title="quickstart summary"))


def evaluation_table(report: EvaluationReport) -> Table:
    """Every target with its measured figure; misses are shown, not hidden."""
    table = Table(title="evaluation on real data", show_edge=False)
    for column in ("case", "metric", "measured", "target", "result"):
        table.add_column(column, justify="right" if column == "measured" else "left")
    checks = [(result.title, check) for result in report.scoring for check in result.checks]
    if report.recommendation is not None:
        checks += [("Instacart", check) for check in report.recommendation.checks]
    for title, check in checks:
        verdict = "[green]met[/]" if check.met else "[red]missed[/]"
        table.add_row(title, check.metric, f"{check.value:.3f}", check.target, verdict)
    return table


def model_status_table(statuses: list[ModelStatus]) -> Table:
    """One block per model, two columns wide, so it stays readable in a narrow terminal."""
    table = Table(title="models", show_edge=False, show_header=False)
    table.add_column("what")
    table.add_column("value")
    for status in statuses:
        table.add_row(f"[bold]{status.model_name}[/]", "")
        table.add_row("  champion", f"v{status.champion}" if status.champion else "[yellow]none: train one[/]")
        table.add_row("  earlier champions", ", ".join(f"v{v}" for v in status.history[:-1][-5:]) or "-")
        table.add_row("  latest version", f"v{status.latest}: {status.latest_verdict}" if status.latest else "-")
        table.add_row("  drift (PSI)", _drift_cell(status.drift, status.model_name))
    return table


def _drift_cell(drift: list[FeatureDrift] | None, model_name: str) -> str:
    """The verdict of the worst drift the calendar does not explain, what to do about it, and
    the three features that moved most (those that move with time marked so)."""
    from models.drift import MOVES_WITH_TIME, worst_real_drift

    if not drift:
        return "-"
    worst = worst_real_drift(drift)
    verdict = "stable" if worst is None else worst.verdict
    colour = {"stable": "green", "watch": "yellow", "shifted": "red"}[verdict]
    advice = {
        "stable": "",
        "watch": "; watch it at the next scoring",
        "shifted": f"; retrain on the newer history: crm-intel train {model_name}",
    }[verdict]
    top = ", ".join(
        f"{d.feature} {d.psi:.2f}" + (f" ({MOVES_WITH_TIME})" if d.by_construction else "") for d in drift[:3]
    )
    return f"[{colour}]{verdict}[/]{advice}: {top}"


def recommender_table(result: RecommenderRunResult) -> Table:
    table = Table(title=f"{result.model_name} v{result.version} (run {result.run_id[:8]})", show_edge=False)
    table.add_column("holdout metric (newest purchases held out)")
    table.add_column("value", justify="right")
    for name in ("precision_at_10", "recall_at_10", "ndcg_at_10", "map_at_10"):
        table.add_row(name, f"{result.metrics[name]:.4f}")
    for name, figures in result.baselines.items():
        table.add_row(f"baseline {name} precision_at_10", f"{figures['precision_at_10']:.4f}")
    table.add_row("purchases learnt from / shoppers judged", f"{result.history_purchases:,} / {result.holdout_users:,}")
    modes = ", ".join(f"{mode} {figure:.4f}" for mode, figure in result.validation.items())
    table.add_row("lists filled by", f"{result.mode} (validation precision_at_10: {modes or 'history too short'})")
    verdict = "[green]promoted to champion[/]" if result.decision.promote else "[yellow]kept as challenger[/]"
    table.add_row("promotion", f"{verdict}: {result.decision.reason}")
    return table


READINESS_MISSING_SHOWN = 3


def readiness_table(check: ReadinessCheck) -> Table:
    """One screen: who the rows are, how many and how split, what the model reads, what is short."""
    table = Table(title=f"{check.model_name}: data readiness", show_edge=False, show_header=False)
    table.add_column("", style="bold")
    table.add_column("")
    table.add_row("rows", escape(check.population))
    table.add_row("split", escape(check.split))
    history = "no dates" if check.history_months is None else f"{check.history_months:.1f} months of dated events"
    table.add_row("history", history)
    report = check.report
    if report is not None:
        table.add_row(
            "positives / rows",
            " / ".join(
                f"{part}: {c.positives:,} of {c.rows:,}"
                for part, c in (("fit", report.train), ("calibration", report.calibration), ("holdout", report.holdout))
            ),
        )
        fields = Counter(custom_field_of(name) for name in check.columns_used if is_custom(name))
        custom = ", ".join(f"{field} ({count} columns)" if count > 1 else field for field, count in fields.items())
        used = f"{len(check.columns_used)}" + (f"; from custom fields: {custom}" if custom else "")
        table.add_row("columns used", escape(used))
        missing = sorted((c for c in report.columns if c.missing_share > 0), key=lambda c: -c.missing_share)
        shown = ", ".join(f"{c.column} {c.missing_share:.0%}" for c in missing[:READINESS_MISSING_SHOWN])
        table.add_row("most missing", shown or "none")
        for leaky in report.refused:
            table.add_row("refused as leaky", escape(leaky.reason()))
    verdict = "[green]ready to train[/]" if check.ready else "[red]not ready[/]: " + escape("; ".join(check.problems))
    table.add_row("verdict", verdict)
    return table


def definitions_text(entries: list[ModelEntry]) -> str:
    """Each model as a short block a person reads top to bottom: its outcome in words, its
    population, its inputs, how it is judged, and where it was declared (console markup escaped:
    titles come from a file)."""
    blocks = []
    for entry in entries:
        declared = "built in" if entry in BUILT_IN else CATALOGUE_FILE
        lines = [
            f"[bold]{escape(entry.name)}[/bold]: {escape(entry.title)} ({entry.kind.value}, {declared})",
            f"  predicts    {escape(entry.outcome_in_words())}",
            f"  scored for  {escape(entry.population_in_words())}",
            f"  others see  {escape(entry.outside_state)}",
            f"  inputs      {escape(entry.inputs_in_words())}",
            f"  judged by   {entry.primary_metric} on the holdout",
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def backtest_table(result: BacktestResult) -> Table:
    """Each step's fit and figure, then the figures over every judged row."""
    table = Table(title=f"{result.model_name}: walked forward ({result.walk})", show_edge=False)
    for column in ("step", "fitted on", "judged", "positives", "scorer", "ROC-AUC"):
        table.add_column(column, justify="left" if column in ("step", "scorer") else "right")
    for step in result.steps:
        figure = "-" if step.roc_auc is None else f"{step.roc_auc:.3f}"
        table.add_row(
            step.name,
            f"{step.fit_rows:,}",
            f"{step.judged_rows:,}",
            f"{step.positives:,}",
            escape(step.scorer or f"skipped: {step.skipped}"),
            figure,
        )
    pooled = result.pooled
    table.add_section()
    table.add_row(
        "every step",
        "",
        "",
        "",
        "",
        f"{pooled['roc_auc']:.3f} (ECE {pooled['ece']:.3f}, PR-AUC {pooled['pr_auc']:.3f})",
    )
    return table


def outcome_table(checked: OutcomeCheck) -> Table:
    """Per month: the scores standing at its start against what happened within the horizon."""
    holdout = "-" if checked.holdout_roc_auc is None else f"{checked.holdout_roc_auc:.3f}"
    table = Table(
        title=f"{checked.model_name}: scores checked against what happened within {checked.horizon_days} days "
        f"(holdout ROC-AUC {holdout})",
        show_edge=False,
    )
    for column in ("month", "contacts", "it happened to", "ROC-AUC", "per band: mean score / happened"):
        table.add_column(column, justify="left" if column.startswith(("month", "per band")) else "right")
    for month in checked.months:
        bands = "; ".join(
            f"{band.band} {band.contacts:,}: {band.mean_score:.0%} / {band.happened:.0%}" for band in month.bands
        )
        figure = "-" if month.roc_auc is None else f"{month.roc_auc:.3f}"
        table.add_row(month.month, f"{month.contacts:,}", f"{month.positives:,}", figure, escape(bands))
    if not checked.months:
        table.add_row(
            f"none yet: no score stood a whole horizon before {checked.checked_until:%Y-%m-%d}", "", "", "", ""
        )
    return table
