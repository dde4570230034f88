"""Imports too large for one request: the upload is staged in the data home and a worker loads
it as the person who sent it, into the same report an inline import answers with.

Imports past about 110k rows outlived the HTTP request (504) and committed nothing; now the
request only reads the file (so an unreadable one is refused at once) and queues the job.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import polars as pl

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.entities import Job
from crm_core.errors import ForbiddenError
from crm_core.imports.bulk_records import ImportMapping, import_records
from crm_core.imports.contacts import import_contacts
from crm_core.imports.mapping_files import parse_mapping
from crm_core.imports.reading import read_table
from crm_core.imports.record_kinds import RECORD_KINDS
from crm_core.jobs.queue import JobQueue, QueueUnavailableError
from crm_core.jobs.runner import JobFailedError, JobRun
from crm_core.jobs.staging import PARAMETER, stage_upload, staged_file
from crm_core.schemas.imports import ImportReport
from crm_core.services.person_guard import may_readd_erased
from crm_core.unit_of_work import UnitOfWork

IMPORT_CONTACTS = "import_contacts"
IMPORT_RECORDS = "import_records"
# Files with more rows than this are imported by a worker; smaller ones in the request.
INLINE_IMPORT_ROWS = 20_000
# Problems a stored job report keeps of each list (the counts stay exact).
REPORTED_PROBLEMS = 10_000


def start_contacts_import(
    uow: UnitOfWork,
    caller: Principal,
    queue: JobQueue,
    home: Path,
    data: bytes,
    *,
    source: str,
    mapping: dict[str, str] | None,
    allow_erased: bool,
    mapping_file: str | None = None,
) -> Job:
    """Refuse what the import itself would refuse outright, then stage the file and queue it
    (a mapping file's text rides in the job's parameters and is read again by the worker)."""
    caller.require("contact", Action.CREATE)
    if allow_erased and not may_readd_erased(caller):
        raise ForbiddenError("only an administrator may re-load people erased on request")
    parameters = {"source": source, "mapping": mapping, "mapping_file": mapping_file, "allow_erased": allow_erased}
    return _queue_staged(uow, caller, queue, home, data, IMPORT_CONTACTS, parameters)


def _queue_staged(
    uow: UnitOfWork,
    caller: Principal,
    queue: JobQueue,
    home: Path,
    data: bytes,
    job_kind: str,
    parameters: dict[str, Any],
) -> Job:
    """Stage the upload owner-only and queue its job; a queue that cannot take it leaves no file."""
    staged = stage_upload(home, data)
    try:
        return queue.submit(uow, caller, job_kind, parameters | {PARAMETER: staged.name})
    except QueueUnavailableError:
        staged.unlink(missing_ok=True)
        raise


def _staged_frame(run: JobRun, what: str, separator: str = ",") -> tuple[pl.DataFrame, str]:
    """The job's staged upload read as text columns, with progress said before and after."""
    staged = staged_file(run.home, run.parameters)
    if staged is None or not staged.is_file():
        raise JobFailedError("the uploaded file is no longer there; upload it again")
    source = str(run.parameters.get("source") or "upload")
    run.progress(0, None, "reading the file")
    frame = read_table(staged, name=source, separator=separator)
    run.progress(0, frame.height, f"checking {frame.height:,} rows{what}")
    return frame, source


def run_contacts_import(run: JobRun) -> dict[str, Any]:
    """The worker's half: read the staged file, import it in one transaction, report (the
    runner removes the file when the job ends). Progress
    is reported while rows are checked, before the import's first write: on SQLite the progress
    row could not be written past the import's write lock."""
    mapping = chosen_mapping(run.parameters.get("mapping"), run.parameters.get("mapping_file"))
    frame, source = _staged_frame(run, "", mapping.separator)
    with UnitOfWork(run.session_factory) as uow:
        report = import_contacts(
            uow,
            run.principal,
            frame,
            mapping=mapping,
            source=source,
            now=utc_now(),
            allow_erased=bool(run.parameters.get("allow_erased")),
            on_progress=lambda done, total: run.progress(done, total, f"checked {done:,} of {total:,} rows"),
        )
        uow.commit()
    return _stored_report(report)


def _stored_report(report: ImportReport) -> dict[str, Any]:
    body = report.model_dump(mode="json")
    return {
        "report": body
        | {"rejected": body["rejected"][:REPORTED_PROBLEMS], "flagged": body["flagged"][:REPORTED_PROBLEMS]},
        "rejected_total": len(report.rejected),
        "flagged_total": len(report.flagged),
    }


def start_records_import(
    uow: UnitOfWork,
    caller: Principal,
    queue: JobQueue,
    home: Path,
    data: bytes,
    *,
    source: str,
    kind: str,
    mapping: dict[str, str] | None,
    mapping_file: str | None,
) -> Job:
    """Queue a file of `kind` (accounts, products, activities, orders): the mapping file's text
    rides in the job's parameters and is read again by the worker."""
    caller.require(RECORD_KINDS[kind].entity, Action.CREATE)
    parameters = {"source": source, "kind": kind, "mapping": mapping, "mapping_file": mapping_file}
    return _queue_staged(uow, caller, queue, home, data, IMPORT_RECORDS, parameters)


def chosen_mapping(columns: dict[str, str] | None, mapping_file: str | None) -> ImportMapping:
    """A mapping file's columns and options, with explicit column pairs on top."""
    mapping = parse_mapping(mapping_file, "mapping_file").mapping() if mapping_file else ImportMapping()
    mapping.columns.update(columns or {})
    return mapping


def run_records_import(run: JobRun) -> dict[str, Any]:
    """The worker's half of `start_records_import`: the same import an inline upload runs."""
    kind = RECORD_KINDS.get(str(run.parameters.get("kind")))
    if kind is None:
        raise JobFailedError("the job names no importable record kind")
    mapping = chosen_mapping(run.parameters.get("mapping"), run.parameters.get("mapping_file"))
    frame, source = _staged_frame(run, f" of {kind.name}", mapping.separator)
    with UnitOfWork(run.session_factory) as uow:
        report = import_records(uow, run.principal, kind, frame, mapping=mapping, source=source, now=utc_now())
        uow.commit()
    return _stored_report(report)
