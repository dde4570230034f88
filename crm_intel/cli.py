"""The `crm-intel` command. Each sub-command is a thin shell over a job in `crm_intel.jobs`."""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from crm_intel.console import console

if TYPE_CHECKING:
    from crm_intel.context import AppContext

app = typer.Typer(help="crm-intel: a CRM with customer intelligence built in.", no_args_is_help=True)

DEFAULT_PORT = 3000


@app.callback()
def _before_any_command() -> None:
    """Silence telemetry before a command imports MLflow, Feast or BentoML (some write at import)."""
    from crm_core.settings import CoreSettings
    from crm_intel.context import quiet_third_parties

    quiet_third_parties(CoreSettings().home.resolve())


def _context() -> AppContext:
    from crm_intel.context import AppContext

    return AppContext.from_environment()


def _fail(message: str) -> None:
    console.print(f"[red]error:[/] {message}")
    raise typer.Exit(code=1)


@app.command("db-upgrade")
def db_upgrade() -> None:
    """Create or migrate the CRM database to the latest schema."""
    ctx = _context()
    _ = ctx.engine
    console.print(f"database at {ctx.core.resolved_database_url()} is up to date")


@app.command("demo-data")
def demo_data(
    contacts: Annotated[int, typer.Option(min=10, help="number of contacts to generate")] = 2_000,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same CRM")] = 7,
    replace: Annotated[bool, typer.Option(help="delete every CRM record first")] = False,
) -> None:
    """Generate a coherent two-year demo CRM history into an empty CRM."""
    from crm_core.errors import DatabaseNotEmptyError
    from crm_intel import jobs

    try:
        loaded = jobs.demo_data(_context(), contacts=contacts, seed=seed, replace=replace)
    except DatabaseNotEmptyError as error:
        _fail(f"{error} (use --replace to start over)")
    else:
        console.print(", ".join(f"{name}: {rows:,}" for name, rows in loaded.items()))
        console.print(f"demo logins, one per role: {_context().demo_logins_path}")


@app.command("create-user")
def create_user(
    email: Annotated[str, typer.Option(help="sign-in email")],
    role: Annotated[str, typer.Option(help="admin, sales_manager, sales_rep, marketer, data_scientist, model_service")],
    name: Annotated[str, typer.Option(help="full name")],
    team: Annotated[str | None, typer.Option(help="team name (created if new)")] = None,
    password: Annotated[
        str, typer.Option(prompt=True, hide_input=True, confirmation_prompt=True, help="at least 12 characters")
    ] = "",
) -> None:
    """Create a user who can sign in. There is no default password: you choose it here."""
    from crm_core.auth.passwords import WeakPasswordError
    from crm_core.auth.policy import Role
    from crm_core.auth.principal import Principal
    from crm_core.clock import utc_now
    from crm_core.db import make_session_factory
    from crm_core.errors import ValidationFailedError
    from crm_core.services.users import create_user as create
    from crm_core.unit_of_work import UnitOfWork

    ctx = _context()
    try:
        with UnitOfWork(make_session_factory(ctx.engine)) as uow:
            operator = Principal.system(Role.ADMIN, "crm-intel create-user")
            user = create(
                uow, operator, email=email, full_name=name, role=role, password=password, now=utc_now(), team_name=team
            )
            uow.commit()
    except (ValidationFailedError, WeakPasswordError) as error:
        _fail(str(error))
    else:
        console.print(f"created {user.role} {user.email} (id {user.id})")


@app.command("audit-verify")
def audit_verify() -> None:
    """Recompute the audit trail's hash chain; exits 1 at the first tampered event."""
    from crm_core.db import make_session_factory
    from crm_core.services.audit import verify_chain
    from crm_core.unit_of_work import UnitOfWork

    with UnitOfWork(make_session_factory(_context().engine)) as uow:
        check = verify_chain(uow)
    if not check.intact:
        _fail(f"audit chain broken at event {check.first_broken_id} (after {check.events:,} intact events)")
    console.print(f"audit chain intact: {check.events:,} events")


@app.command()
def backup(
    out: Annotated[Path | None, typer.Option(help="new folder (default: backups/ beside the home)")] = None,
    include_keys: Annotated[
        bool, typer.Option(help="also copy the field-encryption keys (keep such a backup as safe as the keys)")
    ] = False,
) -> None:
    """Back up the CRM, the model registry and the feature store into one verified folder."""
    from crm_core.backup import BackupError
    from crm_core.clock import utc_now
    from crm_intel.backup import backup as run_backup
    from crm_intel.backup import default_bundle_path

    ctx = _context()
    target = out or default_bundle_path(ctx.home, utc_now())
    try:
        with console.status("backing up"):
            result = run_backup(ctx, target, include_keys=include_keys)
    except BackupError as error:
        _fail(str(error))
    else:
        contacts = result.crm_rows.get("contacts", 0)
        console.print(
            f"backup written to {result.path}: {contacts:,} contacts, {sum(result.crm_rows.values()):,} CRM rows, "
            f"{result.files:,} files, {result.bytes / 1e6:,.1f} MB, every file sha256-listed in manifest.json"
        )
        if not result.keys_included:
            console.print("[yellow]field keys are not in the backup: keep them safe separately[/]")


@app.command()
def restore(
    bundle: Annotated[Path, typer.Argument(help="a folder written by `crm-intel backup`")],
    force: Annotated[bool, typer.Option(help="replace a CRM that already holds contacts")] = False,
) -> None:
    """Restore a backup into this data home after checking every file's sha256. Stop the server first."""
    from crm_core.backup import BackupError
    from crm_intel.backup import restore as run_restore

    try:
        with console.status("verifying and restoring"):
            result = run_restore(_context(), bundle, force=force)
    except BackupError as error:
        _fail(str(error))
    else:
        for warning in result.warnings:
            console.print(f"[yellow]{warning}[/]")
        console.print(
            f"restored {result.path}: {result.crm_rows.get('contacts', 0):,} contacts, "
            f"{sum(result.crm_rows.values()):,} CRM rows, {result.files:,} files"
        )


@app.command("rotate-keys")
def rotate_keys() -> None:
    """Re-encrypt every personal field under a new key and retire the old ones.

    With keys in CRM_FIELD_KEYS, first put the new key in front of the old ones; remove the old
    ones from the setting once this has finished.
    """
    from crm_intel import jobs

    ctx = _context()
    result = jobs.rotate_field_keys(ctx)
    console.print(f"{result.values_rewritten:,} values re-encrypted, {result.values_already_current:,} already current")
    if ctx.core.field_keys:
        console.print("now remove every key but the first from CRM_FIELD_KEYS")


@app.command("import")
def import_file(
    entity: Annotated[str, typer.Argument(help="what the file holds: contacts")],
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV (UTF-8, header row) or Parquet")],
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="field=Column, repeatable; other fields match by column name")
    ] = None,
    allow_erased: Annotated[bool, typer.Option(help="load people erased before (always flagged)")] = False,
) -> None:
    """Import records: good rows load in one transaction, bad rows are listed with their reason."""
    from datetime import UTC, datetime

    from crm_core.errors import ValidationFailedError
    from crm_core.imports.mapping import parse_mapping_pairs
    from crm_intel import jobs
    from crm_intel.summary import import_table

    if entity != "contacts":
        _fail(f"unknown import '{entity}'; importable: contacts")
    ctx = _context()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    problems_path = ctx.home / "imports" / f"{path.stem}-{stamp}-problems.csv"
    try:
        report = jobs.import_contacts_file(
            ctx, path, parse_mapping_pairs(map_ or []), allow_erased=allow_erased, problems_path=problems_path
        )
    except ValidationFailedError as error:
        _fail(str(error))
    else:
        console.print(import_table(report))
        if report.rejected or report.flagged:
            console.print(f"every rejected and flagged row, with its reason: {problems_path}")


@app.command("import-dataset")
def import_dataset(
    name: Annotated[str, typer.Argument(help="telco, bank, olist or instacart")],
    data_dir: Annotated[Path, typer.Option(help="the shared datasets folder")] = Path("../shared/datasets"),
) -> None:
    """Load a public data set into an empty CRM, to check the models on data nobody here wrote."""
    from crm_core.datasets.common import DatasetMissingError
    from crm_core.datasets.registry import DATASETS
    from crm_core.errors import DatabaseNotEmptyError
    from crm_intel import jobs

    if name not in DATASETS:
        _fail(f"unknown data set '{name}'; known: {', '.join(DATASETS)}")
    try:
        loaded = jobs.import_dataset(_context(), name, data_dir)
    except (DatasetMissingError, DatabaseNotEmptyError) as error:
        _fail(str(error))
    else:
        console.print(", ".join(f"{table}: {rows:,}" for table, rows in loaded.items()))


segments_app = typer.Typer(help="Audiences: rule segments and behaviour clusters.", no_args_is_help=True)
app.add_typer(segments_app, name="segments")


@segments_app.command("refresh")
def segments_refresh() -> None:
    """Re-evaluate rule segments on the newest scores and refit the behaviour clusters."""
    from crm_intel import jobs

    jobs.refresh_segments_now(_context())


@segments_app.command("list")
def segments_list() -> None:
    """Every segment with its size and when it was last refreshed."""
    from crm_core.auth.policy import Role
    from crm_core.auth.principal import Principal
    from crm_core.db import make_session_factory
    from crm_core.services.segments import list_segments
    from crm_core.unit_of_work import UnitOfWork

    with UnitOfWork(make_session_factory(_context().engine)) as uow:
        for segment in list_segments(uow, Principal.system(Role.ADMIN, "crm-intel segments")):
            refreshed = f"{segment.refreshed_at:%Y-%m-%d %H:%M}" if segment.refreshed_at else "never"
            console.print(
                f"{segment.id:>4}  {segment.kind:<7} {segment.member_count:>8,}  {segment.name}  ({refreshed})"
            )


models_app = typer.Typer(help="Champions, challengers and rollbacks in the model registry.", no_args_is_help=True)
app.add_typer(models_app, name="models")


@models_app.command("status")
def models_status() -> None:
    """Each model's champion, the versions that held the title before, and the latest verdict."""
    from crm_intel import jobs
    from crm_intel.summary import model_status_table

    console.print(model_status_table(jobs.model_status(_context())))


@models_app.command("rollback")
def models_rollback(name: Annotated[str, typer.Argument(help="model name, e.g. churn")]) -> None:
    """Give the champion alias back to the previous champion (servers follow within their refresh)."""
    from training.tracking import NothingToRollBackError, Tracker

    ctx = _context()
    try:
        done = Tracker(ctx.training).rollback(name)
    except NothingToRollBackError as error:
        _fail(str(error))
    else:
        console.print(
            f"{name}: champion moved back from v{done.from_version} to v{done.to_version}; running servers "
            f"follow within {ctx.serving.champion_refresh_seconds:g} s"
        )


@models_app.command("promote")
def models_promote(
    name: Annotated[str, typer.Argument(help="model name, e.g. churn")],
    version: Annotated[str, typer.Argument(help="the registry version to make champion")],
    force: Annotated[bool, typer.Option(help="promote even where the version lost to the champion")] = False,
) -> None:
    """Make a version the champion by hand; refused where its own run found the champion better."""
    from training.tracking import PromotionRefusedError, Tracker

    ctx = _context()
    try:
        done = Tracker(ctx.training).promote(name, version, force=force)
    except PromotionRefusedError as error:
        _fail(str(error))
    else:
        before = f"v{done.from_version}" if done.from_version else "no champion"
        console.print(
            f"{name}: champion moved from {before} to v{done.to_version}; running servers follow within "
            f"{ctx.serving.champion_refresh_seconds:g} s"
        )


@app.command("mlflow-ui")
def mlflow_ui(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = 5000,
) -> None:
    """Open the MLflow UI on this data home's runs and registry, for data scientists (loopback only)."""
    ctx = _context()
    uri = ctx.training.tracking_uri
    console.print(f"MLflow UI on http://127.0.0.1:{port}  (runs and registry: {uri})")
    command = [sys.executable, "-m", "mlflow", "ui", "--backend-store-uri", uri, "--registry-store-uri", uri]
    command += [
        "--default-artifact-root",
        ctx.training.artifact_root.as_uri(),
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    command += ["--workers", "1"]
    os.execve(sys.executable, command, dict(os.environ))


@app.command()
def evaluate(
    data_dir: Annotated[Path, typer.Option(help="the shared datasets folder")] = Path("../shared/datasets"),
    out_dir: Annotated[Path, typer.Option(help="where EVALUATION.md and evaluation.json go")] = Path(),
    only: Annotated[
        list[str] | None, typer.Option(help="telco_churn, bank_marketing, olist_funnel or instacart (repeatable)")
    ] = None,
) -> None:
    """Import the public data sets into scratch CRMs and measure every model against its target."""
    from crm_core.datasets.common import DatasetMissingError
    from crm_intel import jobs
    from crm_intel.summary import evaluation_table
    from training.evaluation.runner import CASE_KEYS

    unknown = sorted(set(only or ()) - set(CASE_KEYS))
    if unknown:
        _fail(f"unknown evaluation {unknown}; known: {', '.join(CASE_KEYS)}")
    try:
        report = jobs.evaluate(_context(), data_dir, out_dir, set(only) if only else None)
    except DatasetMissingError as error:
        _fail(str(error))
    else:
        console.print(evaluation_table(report))


@app.command("export")
def export_file(
    entity: Annotated[str, typer.Argument(help="what to export: contacts")],
    out: Annotated[Path, typer.Option(help="file to write (.csv or .parquet)")],
    consent: Annotated[list[str] | None, typer.Option(help="only people opted in on this channel (repeatable)")] = None,
    limit: Annotated[int, typer.Option(min=1, help="row cap")] = 100_000,
) -> None:
    """Export contacts to CSV (formula cells defused) or Parquet; the export is audited."""
    from crm_core.entities import Channel
    from crm_core.errors import ValidationFailedError
    from crm_core.services.contact_export import ExportFormat
    from crm_intel import jobs

    if entity != "contacts":
        _fail(f"unknown export '{entity}'; exportable: contacts")
    file_format = ExportFormat.PARQUET if out.suffix.lower() == ".parquet" else ExportFormat.CSV
    try:
        channels = [Channel(name) for name in consent or []]
        export = jobs.export_contacts_file(_context(), out, file_format, channels, limit)
    except ValueError as error:
        _fail(f"--consent: {error}")
    except ValidationFailedError as error:
        _fail(str(error))
    else:
        note = " (truncated at the row cap)" if export.truncated else ""
        console.print(f"{export.rows:,} contacts written to {out}{note}")


@app.command("erase")
def erase(
    contact_id: Annotated[int | None, typer.Argument(help="the contact to erase")] = None,
    reason: Annotated[str, typer.Option(help="subject_request, consent_withdrawn, retention_expired, ...")] = (
        "subject_request"
    ),
    pending: Annotated[bool, typer.Option(help="only finish feature purges of earlier erasures")] = False,
) -> None:
    """Erase a person from the CRM, feature snapshots and the online store; audited."""
    from crm_core.entities import ErasureReason
    from crm_core.errors import NotFoundError
    from crm_intel import jobs

    if reason not in {r.value for r in ErasureReason}:
        _fail(f"unknown reason '{reason}'; one of: {', '.join(r.value for r in ErasureReason)}")
    ctx = _context()
    if pending or contact_id is None:
        purged = jobs.purge_pending_erasures(ctx)
        console.print(f"purged {purged.snapshot_rows_removed:,} snapshot rows, {purged.online_rows_removed:,} online")
        return
    try:
        result, purged = jobs.erase(ctx, contact_id, ErasureReason(reason))
    except NotFoundError as error:
        _fail(str(error))
    else:
        rows = sum(result.rows_deleted.values())
        console.print(
            f"contact {contact_id} erased: {rows:,} CRM rows deleted, {result.deals_unlinked} deals unlinked, "
            f"{purged.snapshot_rows_removed:,} snapshot rows and {purged.online_rows_removed:,} online rows removed"
        )


@app.command("build-features")
def build_features() -> None:
    """Compute feature snapshots, apply the Feast definitions and refresh the online store."""
    from crm_intel import jobs
    from features.snapshots import NoActivityError

    try:
        result = jobs.build_features(_context())
    except NoActivityError as error:
        _fail(str(error))
    else:
        console.print(
            f"{result.snapshot_rows:,} snapshot rows over {len(result.as_of_dates)} dates; "
            f"{result.contacts_latest:,} contacts online as of {result.as_of_dates[-1]:%Y-%m-%d}"
            + (" (already current)" if result.online.already_current else f" in {result.online.seconds:.1f} s")
        )


@app.command()
def train(model: Annotated[str, typer.Argument(help="churn, lead or recommend")]) -> None:
    """Train a model, log it to MLflow, and promote it only if it beats the champion."""
    from crm_intel import jobs
    from crm_intel.summary import recommender_table, training_table
    from models.graduated import InsufficientDataError
    from training.jobs import RECOMMENDER_SPECS, UnknownModelError
    from training.readiness import NotReadyError
    from training.recommendation_pipeline import NoPurchasesError
    from training.split import NotEnoughHistoryError

    try:
        if model in RECOMMENDER_SPECS:
            console.print(recommender_table(jobs.train_recommender(_context(), model)))
        else:
            console.print(training_table(jobs.train(_context(), model)))
    except (UnknownModelError, NotEnoughHistoryError, NotReadyError, InsufficientDataError, NoPurchasesError) as error:
        _fail(str(error))


@app.command()
def recommend() -> None:
    """Write every contact's next-best products from the champion recommender back to the CRM."""
    from crm_intel import jobs
    from models.artifacts import ArtifactIntegrityError
    from serving.champion import NoChampionError

    try:
        result, version = jobs.recommend(_context())
    except (NoChampionError, ArtifactIntegrityError) as error:
        _fail(str(error))
    else:
        console.print(
            f"recommend v{version}: {result.contacts:,} contacts, {result.inserted:,} recommendations written, "
            f"{result.already_present:,} already present, {result.rejected:,} rejected"
        )


@app.command()
def score(model: Annotated[str, typer.Argument(help="model to score with, e.g. churn")]) -> None:
    """Batch-score every contact with the model's champion and write the scores back."""
    from crm_intel import jobs
    from crm_intel.summary import scoring_line
    from models.artifacts import ArtifactIntegrityError
    from serving.batch import NoSnapshotError
    from serving.champion import NoChampionError

    try:
        result, version = jobs.score(_context(), model)
    except (NoChampionError, NoSnapshotError, ArtifactIntegrityError) as error:
        _fail(str(error))
    else:
        console.print(scoring_line(result, model, version))


@app.command()
def quickstart(
    contacts: Annotated[int, typer.Option(min=200, help="demo contacts, if the CRM is empty")] = 5_000,
    seed: Annotated[int, typer.Option(help="random seed for the demo data")] = 7,
) -> None:
    """Demo data -> features -> train -> promote -> batch score, then a summary. Safe to rerun."""
    from crm_intel import jobs
    from crm_intel.summary import print_quickstart

    ctx = _context()
    print_quickstart(ctx, jobs.quickstart(ctx, contacts=contacts, seed=seed))


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="interface to bind; loopback unless you mean it")] = "127.0.0.1",
) -> None:
    """Serve the CRM API and prediction endpoints on one BentoML server."""
    ctx = _context()
    _ = ctx.engine  # migrate before workers start
    base = f"http://{host}:{port}"
    console.print(
        f"serving on {base}\n  web app:     {base}/app/  (sign in with a login from demo_logins.json)\n"
        f"  CRM API:     {base}/api/contacts/1  (docs {base}/api/docs)\n"
        f"  predictions: POST {base}/predict/churn  (docs {base}/predict/docs)\n  readiness:   {base}/readyz"
    )
    env = dict(os.environ, CRM_HOME=str(ctx.home))
    command = [sys.executable, "-m", "bentoml", "serve", "serving.service:CrmIntelService"]
    os.execve(sys.executable, [*command, "--host", host, "--port", str(port)], env)


if __name__ == "__main__":
    app()
