"""The jobs that move CRM data in and out (file imports and exports) and
rotate the field-encryption keys: CRM-side only, so none of them imports the model stack."""

from __future__ import annotations

from pathlib import Path

import polars as pl

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import Channel
from crm_core.imports.bulk_records import ImportMapping
from crm_core.imports.contacts import import_kind
from crm_core.imports.reading import read_table
from crm_core.imports.record_kinds import RECORD_KINDS
from crm_core.jobs.live import lazy_live_queue, wake_on_commit
from crm_core.protection import keyring
from crm_core.protection.keys import add_primary_key, retire_old_keys
from crm_core.protection.rotation import RotationResult, reencrypt
from crm_core.schemas.imports import ImportReport
from crm_core.services import audit
from crm_core.services.contact_export import ContactExport, ExportFormat, export_contacts
from crm_core.unit_of_work import UnitOfWork
from crm_intel.console import console, row_progress
from crm_intel.context import AppContext

KEY_ROTATION = Principal.system(Role.ADMIN, "crm-intel rotate-keys")


def rotate_field_keys(ctx: AppContext) -> RotationResult:
    """Put every personal field under a new key, then retire the old ones.

    With the embedded key file the new key is generated here; with keys from the environment
    the operator has already put the new key first and removes the old ones afterwards.
    """
    engine = ctx.engine
    managed_file = not ctx.core.field_keys
    if managed_file:
        keyring.install(add_primary_key(ctx.core.key_file))
    with row_progress() as progress:
        task = progress.add_task("re-encrypting personal fields", total=None)
        result = reencrypt(engine, on_progress=lambda rows: progress.advance(task, rows))
    if managed_file:
        keyring.install(retire_old_keys(ctx.core.key_file))
    with UnitOfWork(make_session_factory(engine)) as uow:
        audit.record(
            uow,
            KEY_ROTATION,
            action="keys.rotate",
            entity="contact",
            details={"rewritten": result.values_rewritten, "key_id": keyring.active().primary_key_id},
            at=utc_now(),
        )
        uow.commit()
    return result


IMPORTER = Principal.system(Role.ADMIN, "crm-intel import")


IMPORTABLE = ("contacts", *RECORD_KINDS)


def import_file(
    ctx: AppContext,
    kind: str,
    path: Path,
    mapping: ImportMapping,
    *,
    allow_erased: bool = False,
    problems_path: Path,
) -> ImportReport:
    """Import one file of `kind` in one transaction; every rejected or flagged row goes to
    `problems_path` with its reason and its own cells."""
    with console.status(f"reading {path.name}"):
        frame = read_table(path, separator=mapping.separator)
    session_factory = make_session_factory(ctx.engine)
    wake_on_commit(session_factory, lazy_live_queue(ctx.core))  # a running worker rescores what came in
    with (
        console.status(f"validating and loading {frame.height:,} rows of {kind}"),
        UnitOfWork(session_factory) as uow,
    ):
        report = import_kind(
            uow, IMPORTER, kind, frame, mapping=mapping, source=path.name, now=utc_now(), allow_erased=allow_erased
        )
        uow.commit()
    if report.rejected or report.flagged:
        problems_path.parent.mkdir(parents=True, exist_ok=True)
        problem_rows(frame, report).write_csv(problems_path)
    return report


PROBLEM_COLUMNS = ("row", "kind", "field", "reason", "value")


def problem_rows(frame: pl.DataFrame, report: ImportReport) -> pl.DataFrame:
    """Each rejected or flagged row's problem, then the row's own cells as the file gave them: the
    problems file can be fixed in place and imported again. A file column named like one of ours
    is suffixed " (file)"."""
    listed = pl.DataFrame(
        [problem.model_dump() | {"kind": "rejected"} for problem in report.rejected]
        + [problem.model_dump() | {"kind": "flagged"} for problem in report.flagged],
        schema={"row": pl.Int64, "field": pl.String, "reason": pl.String, "value": pl.String, "kind": pl.String},
    ).select(PROBLEM_COLUMNS)
    renamed = {column: f"{column} (file)" for column in frame.columns if column in PROBLEM_COLUMNS}
    cells = frame.rename(renamed).with_row_index("row", offset=1).with_columns(pl.col("row").cast(pl.Int64))
    return listed.join(cells, on="row", how="left").sort("row", maintain_order=True)


EXPORTER = Principal.system(Role.ADMIN, "crm-intel export")


def export_contacts_file(
    ctx: AppContext, out: Path, file_format: ExportFormat, consent: list[Channel], limit: int
) -> ContactExport:
    """Write the export atomically: a half-written file is never mistaken for a complete one."""
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        export = export_contacts(uow, EXPORTER, file_format=file_format, consent=consent, limit=limit, now=utc_now())
        out.parent.mkdir(parents=True, exist_ok=True)
        scratch = out.with_name(out.name + ".partial")
        scratch.write_bytes(export.content)
        scratch.replace(out)
        uow.commit()
    return export
