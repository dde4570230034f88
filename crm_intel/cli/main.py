"""The `crm-intel` commands: each parses its arguments, calls the application layer (`crm_intel.app`), prints."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import typer

from crm_intel.cli.models import models_app
from crm_intel.cli.safety import safety
from crm_intel.cli.segments import segments_app
from crm_intel.cli.support import Command, context, fail
from crm_intel.console import console

app = Command(help="crm-intel: a CRM with customer intelligence built in.", no_args_is_help=True)

DEFAULT_PORT = 3000
# `crm-intel import` loaded the good rows but refused others (errors that stop it exit 1).
REFUSED_ROWS_EXIT = 3
ACTIVITY_SCALE_HELP = "multiplies the demo contacts' everyday activity (1: about 26 events each over two years)"

app.add_typer(segments_app, name="segments")
app.add_typer(models_app, name="models")


@app.callback()
def _before_any_command() -> None:
    """Files this process (and the servers and jobs it starts) creates are its owner's only:
    the data home holds personal data, keys, backups and exports. Then silence telemetry before
    a command imports MLflow, Feast or BentoML (some write at import)."""
    from crm_core.settings import HomeSettings, check_settings
    from crm_intel.context import OWNER_ONLY_UMASK, quiet_third_parties

    os.umask(OWNER_ONLY_UMASK)
    check_settings(HomeSettings)
    quiet_third_parties(HomeSettings().home.resolve())


@app.command("db-upgrade")
def db_upgrade() -> None:
    """Create or migrate the CRM database to the latest schema."""
    ctx = context()
    _ = ctx.engine
    console.print(f"database at {ctx.core.resolved_database_url()} is up to date")


@app.command("demo-data")
def demo_data(
    contacts: Annotated[int, typer.Option(min=10, help="number of contacts to generate")] = 2_000,
    seed: Annotated[int, typer.Option(help="random seed: same seed, same CRM")] = 7,
    replace: Annotated[bool, typer.Option(help="delete every CRM record first")] = False,
    activity_scale: Annotated[float, typer.Option(min=0.1, max=20.0, help=ACTIVITY_SCALE_HELP)] = 1.0,
) -> None:
    """Generate a coherent two-year demo CRM history into an empty CRM."""
    from crm_core.errors import DatabaseNotEmptyError
    from crm_intel.app import demo

    try:
        loaded = demo.demo_data(context(), contacts=contacts, seed=seed, replace=replace, activity_scale=activity_scale)
    except DatabaseNotEmptyError as error:
        fail(f"{error} (use --replace to start over)")
    else:
        console.print(", ".join(f"{name}: {rows:,}" for name, rows in loaded.items()))
        console.print(f"demo logins, one per role: {context().demo_logins_path}")


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
    from crm_core.auth.policy import Role
    from crm_core.auth.principal import Principal
    from crm_core.clock import utc_now
    from crm_core.db import make_session_factory
    from crm_core.services.users import create_user as create
    from crm_core.unit_of_work import UnitOfWork

    ctx = context()
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        operator = Principal.system(Role.ADMIN, "crm-intel create-user")
        user = create(
            uow, operator, email=email, full_name=name, role=role, password=password, now=utc_now(), team_name=team
        )
        uow.commit()
    console.print(f"created {user.role} {user.email} (id {user.id})")


@app.command("import")
def import_file(
    entity: Annotated[
        str,
        typer.Argument(
            help="what the file holds: contacts, accounts, products, activities, orders, deals, deal_stages, "
            "tickets or consents"
        ),
    ],
    path: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV (UTF-8, header row) or Parquet")],
    map_: Annotated[
        list[str] | None, typer.Option("--map", help="field=Column, repeatable; other fields match by column name")
    ] = None,
    mapping: Annotated[
        Path | None,
        typer.Option(exists=True, dir_okay=False, help="a TOML mapping file: columns, date formats, value words"),
    ] = None,
    allow_erased: Annotated[bool, typer.Option(help="contacts: load people erased before (always flagged)")] = False,
) -> None:
    """Import records: good rows load in one transaction, bad rows are listed with their reason.

    Records with an external id already stored are left as they are: importing a file twice adds
    nothing. Exits 3 when rows were refused (the good ones are loaded).
    """
    from datetime import UTC, datetime

    from crm_core.imports.mapping import parse_mapping_pairs
    from crm_core.imports.mapping_files import MappingFile, read_mapping_file
    from crm_intel.app import records
    from crm_intel.cli.summary import import_table

    if entity not in records.IMPORTABLE:
        fail(f"unknown import '{entity}'; importable: {', '.join(records.IMPORTABLE)}")
    described = read_mapping_file(mapping) if mapping is not None else MappingFile()
    if described.kind is not None and described.kind != entity:
        fail(f"{mapping} maps {described.kind}, not {entity}")
    chosen = described.mapping()
    chosen.columns.update(parse_mapping_pairs(map_ or []))
    ctx = context()
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    problems_path = ctx.home / "imports" / f"{path.stem}-{stamp}-problems.csv"
    report = records.import_file(ctx, entity, path, chosen, allow_erased=allow_erased, problems_path=problems_path)
    console.print(import_table(report))
    if report.rejected or report.flagged:
        console.print(f"every rejected and flagged row, with its reason and its cells: {problems_path}")
    if report.rejected:
        # The good rows are loaded; a script still learns that some were not.
        console.print(f"{len({problem.row for problem in report.rejected}):,} row(s) refused: exit {REFUSED_ROWS_EXIT}")
        raise typer.Exit(REFUSED_ROWS_EXIT)


@app.command("import-dataset")
def import_dataset(
    name: Annotated[str, typer.Argument(help="telco, bank, olist or instacart")],
    data_dir: Annotated[Path, typer.Option(help="the shared datasets folder")] = Path("../shared/datasets"),
) -> None:
    """Load a public data set, to check the models on data nobody here wrote.

    Each comes in through its shipped mapping files and the importer every company uses, and
    brings its models into the home's models.toml: `build-features` and `train` follow. A second
    load adds nothing.
    """
    from crm_core.datasets.shipped import shipped_names
    from crm_intel.app.datasets import load_dataset
    from crm_intel.cli.summary import import_table

    if name not in shipped_names():
        fail(f"unknown data set '{name}'; known: {', '.join(shipped_names())}")
    loaded = load_dataset(context(), name, data_dir)
    for report in loaded.reports:
        console.print(import_table(report))
    models = ", ".join(loaded.models)
    if not models:
        console.print(f"{loaded.dataset.title}: judged by the built-in models")
    else:
        said = "written to" if loaded.models_installed else "already in"
        console.print(f"{loaded.dataset.title}: models {models} {said} {loaded.models_file}")
    if any(report.rejected for report in loaded.reports):
        raise typer.Exit(REFUSED_ROWS_EXIT)


@app.command()
def evaluate(
    data_dir: Annotated[Path, typer.Option(help="the shared datasets folder")] = Path("../shared/datasets"),
    out_dir: Annotated[Path, typer.Option(help="where EVALUATION.md and evaluation.json go")] = Path(),
    only: Annotated[
        list[str] | None,
        typer.Option(help="telco_churn, bank_marketing, olist_open_leads, olist_funnel or instacart (repeatable)"),
    ] = None,
) -> None:
    """Import the public data sets into scratch CRMs and measure every model against its target."""
    from crm_intel.app import evaluation
    from crm_intel.cli.summary import evaluation_table

    known = evaluation.case_keys()
    unknown = sorted(set(only or ()) - set(known))
    if unknown:
        fail(f"unknown evaluation {unknown}; known: {', '.join(known)}")
    report = evaluation.evaluate(context(), data_dir, out_dir, set(only) if only else None)
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
    from crm_core.services.contact_export import ExportFormat
    from crm_intel.app import records

    if entity != "contacts":
        fail(f"unknown export '{entity}'; exportable: contacts")
    file_format = ExportFormat.PARQUET if out.suffix.lower() == ".parquet" else ExportFormat.CSV
    try:
        channels = [Channel(name) for name in consent or []]
        export = records.export_contacts_file(context(), out, file_format, channels, limit)
    except ValueError as error:
        fail(f"--consent: {error}")
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
    from crm_intel.app import privacy

    if reason not in {r.value for r in ErasureReason}:
        fail(f"unknown reason '{reason}'; one of: {', '.join(r.value for r in ErasureReason)}")
    ctx = context()
    if pending or contact_id is None:
        purged = privacy.purge_pending_erasures(ctx)
        console.print(f"purged {purged.line()}")
        return
    result, purged = privacy.erase(ctx, contact_id, ErasureReason(reason))
    rows = sum(result.rows_deleted.values())
    console.print(
        f"contact {contact_id} erased: {rows:,} CRM rows deleted, {result.deals_unlinked} deals unlinked; "
        f"removed {purged.line()}"
    )


@app.command("build-features")
def build_features() -> None:
    """Compute feature snapshots, apply the Feast definitions and refresh the online store."""
    from crm_intel.app import features

    result = features.build_features(context())
    console.print(
        f"{result.snapshot_rows:,} snapshot rows over {len(result.as_of_dates)} dates; "
        f"{result.contacts_latest:,} contacts online as of {result.as_of_dates[-1]:%Y-%m-%d}"
        + (" (already current)" if result.online.already_current else f" in {result.online.seconds:.1f} s")
    )


@app.command()
def train(model: Annotated[str, typer.Argument(help="a model of the catalogue, e.g. churn, lead, recommend")]) -> None:
    """Train a model, log it to MLflow, and promote it only if it beats the champion."""
    from crm_intel.app import modelling
    from crm_intel.cli.summary import recommender_table, training_table
    from features.catalogue import ModelKind, UnknownModelError
    from features.catalogue_file import CatalogueError
    from models.graduated import InsufficientDataError
    from training.readiness import NotReadyError
    from training.recommendation_pipeline import NoPurchasesError
    from training.split import NotEnoughHistoryError

    try:
        ctx = context()
        if ctx.catalogue.get(model).kind is ModelKind.RECOMMENDER:
            console.print(recommender_table(modelling.train_recommender(ctx, model)))
        else:
            console.print(training_table(modelling.train(ctx, model)))
    except (
        CatalogueError,
        UnknownModelError,
        NotEnoughHistoryError,
        NotReadyError,
        InsufficientDataError,
        NoPurchasesError,
    ) as error:
        fail(str(error))


@app.command()
def recommend(
    model: Annotated[str, typer.Option(help="the recommender of the catalogue to write with")] = "recommend",
) -> None:
    """Write every contact's next-best products from the champion recommender back to the CRM."""
    from crm_intel.app import scoring

    result, version = scoring.recommend(context(), model)
    console.print(
        f"{model} v{version}: {result.contacts:,} contacts, {result.inserted:,} recommendations written, "
        f"{result.already_present:,} already present, {result.rejected:,} rejected"
    )


@app.command()
def score(model: Annotated[str, typer.Argument(help="model to score with, e.g. churn")]) -> None:
    """Batch-score every contact with the model's champion and write the scores back."""
    from crm_intel.app import scoring
    from crm_intel.cli.summary import scoring_line

    result, version = scoring.score(context(), model)
    console.print(scoring_line(result, model, version))


@app.command()
def quickstart(
    contacts: Annotated[int, typer.Option(min=200, help="demo contacts, if the CRM is empty")] = 5_000,
    seed: Annotated[int, typer.Option(help="random seed for the demo data")] = 7,
    activity_scale: Annotated[float, typer.Option(min=0.1, max=20.0, help=ACTIVITY_SCALE_HELP)] = 1.0,
) -> None:
    """Demo data -> features -> train -> promote -> batch score, then a summary. Safe to rerun."""
    from crm_intel.app import demo
    from crm_intel.cli.summary import print_quickstart

    ctx = context()
    print_quickstart(ctx, demo.quickstart(ctx, contacts=contacts, seed=seed, activity_scale=activity_scale))


@app.command("jobs")
def list_jobs(limit: Annotated[int, typer.Option(min=1, max=500, help="how many, newest first")] = 20) -> None:
    """Background jobs (imports, retraining, promotion): who asked, state, duration, outcome."""
    from crm_intel.app import operations
    from crm_intel.cli.summary import jobs_table

    console.print(jobs_table(operations.recent_jobs(context(), limit)))


@app.command()
def worker(
    exit_with_parent: Annotated[bool, typer.Option(hidden=True, help="stop when the starting process ends")] = False,
) -> None:
    """Run background jobs (large imports) from the job queue until stopped (Ctrl-C)."""
    from crm_intel.worker import run_worker

    run_worker(context(), exit_with_parent=exit_with_parent)


@app.command()
def serve(
    port: Annotated[int, typer.Option(help="port on 127.0.0.1")] = DEFAULT_PORT,
    host: Annotated[str, typer.Option(help="interface to bind; loopback unless you mean it")] = "127.0.0.1",
) -> None:
    """Serve the CRM API and prediction endpoints on one BentoML server."""

    ctx = context()
    _ = ctx.engine  # migrate the CRM and the registry before workers start, not in each at once
    ctx.registry.prepare()
    _ = ctx.catalogue  # the server's routes come from it: a broken models.toml is named here, not in a traceback
    base = f"http://{host}:{port}"
    console.print(
        f"serving on {base}\n  web app:     {base}/app/  (sign in with a login from demo_logins.json)\n"
        f"  CRM API:     {base}/api/contacts/1  (OpenAPI {base}/api/openapi.json)\n"
        f"  predictions: POST {base}/predict/churn  (OpenAPI {base}/docs.json)\n  readiness:   {base}/readyz"
    )
    env = dict(os.environ, CRM_HOME=str(ctx.home))
    # The worker for background jobs, tied to the server: it stops when the server ends.
    subprocess.Popen([sys.executable, "-m", "crm_intel.worker", "--exit-with-parent"], env=env)
    command = [sys.executable, "-m", "bentoml", "serve", "serving.served:CrmIntelService"]
    os.execve(sys.executable, [*command, "--host", host, "--port", str(port)], env)


# Top-level, after the everyday commands in `--help`: `crm-intel backup`, `restore`, ...
app.registered_commands.extend(safety.registered_commands)

if __name__ == "__main__":
    app()
