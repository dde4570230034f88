"""Import routes: upload a CSV or Parquet file of contacts, accounts, products, activities or
orders and get the full row-by-row report, in the answer or, for a large file, in the job that
loads it."""

from __future__ import annotations

import json
from typing import Annotated, Any

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse

from crm_core.api.body_limit import MAX_UPLOAD_BYTES
from crm_core.api.deps import Caller, Queue, Settings, UoW, policy
from crm_core.clock import utc_now
from crm_core.errors import ValidationFailedError
from crm_core.imports.background import (
    INLINE_IMPORT_ROWS,
    chosen_mapping,
    start_contacts_import,
    start_records_import,
)
from crm_core.imports.bulk_records import RecordKind, import_records
from crm_core.imports.contacts import import_contacts
from crm_core.imports.reading import read_table
from crm_core.imports.record_kinds import RECORD_KINDS
from crm_core.schemas.imports import ImportReport
from crm_core.schemas.jobs import JobPublic

router = APIRouter(prefix="/imports", tags=["imports"])


def _mapping(text: str | None) -> dict[str, str] | None:
    if not text:
        return None
    try:
        parsed = json.loads(text)
    except ValueError as error:
        raise ValidationFailedError("mapping", f"is not JSON: {error}") from error
    if not isinstance(parsed, dict) or not all(isinstance(k, str) and isinstance(v, str) for k, v in parsed.items()):
        raise ValidationFailedError("mapping", 'must be a JSON object of field to column, e.g. {"email": "E-mail"}')
    return parsed


def _upload(file: UploadFile) -> tuple[bytes, str]:
    """The uploaded bytes (within the cap) and a printable name for the report."""
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationFailedError("file", f"is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    return data, "".join(ch for ch in (file.filename or "upload") if ch.isprintable())[:200] or "upload"


def _queued(request: Request, job: Any) -> JSONResponse:
    body = JobPublic.model_validate(job).model_dump(mode="json")
    location = str(request.url_for("get_job", job_id=str(job.id)))
    return JSONResponse(status_code=202, content=body, headers={"Location": location})


QUEUED: dict[int | str, dict[str, Any]] = {
    202: {
        "model": JobPublic,
        "description": f"queued as a job (files over {INLINE_IMPORT_ROWS:,} rows, or when asked): "
        "follow it at the Location header; its result holds the report",
    }
}


MAPPING_FILE_CHARACTERS = 64 * 1024


@router.post("/contacts", response_model=ImportReport, responses=QUEUED, openapi_extra=policy("contact", "create"))
def import_contacts_file(
    request: Request,
    uow: UoW,
    caller: Caller,
    settings: Settings,
    queue: Queue,
    file: Annotated[UploadFile, File(description="CSV (UTF-8, header row) or Parquet")],
    mapping: Annotated[str | None, Form(max_length=10_000, description="JSON: field -> column")] = None,
    mapping_file: Annotated[
        str | None,
        Form(max_length=MAPPING_FILE_CHARACTERS, description="a TOML mapping file: columns, date forms, custom fields"),
    ] = None,
    allow_erased: Annotated[bool, Form(description="load people erased before (flagged either way)")] = False,
    background: Annotated[bool, Form(description="run as a job even when the file is small")] = False,
) -> ImportReport | JSONResponse:
    """All good rows load in one transaction; every bad row is in the report with its reason.
    Large files are checked for readability here, then loaded by a worker (202 and the job)."""
    data, source = _upload(file)
    columns = _mapping(mapping)
    chosen = chosen_mapping(columns, mapping_file)  # a broken mapping is refused before queueing
    frame = read_table(data, name=source, separator=chosen.separator)
    if background or frame.height > INLINE_IMPORT_ROWS:
        del frame
        job = start_contacts_import(
            uow,
            caller,
            queue,
            settings.home,
            data,
            source=source,
            mapping=columns,
            allow_erased=allow_erased,
            mapping_file=mapping_file,
        )
        return _queued(request, job)
    report = import_contacts(
        uow,
        caller,
        frame,
        mapping=chosen,
        source=source,
        now=utc_now(),
        allow_erased=allow_erased,
    )
    uow.commit()
    return report


def _records_route(kind: RecordKind) -> None:
    """`POST /imports/<kind>`: one route per kind, each checked against its own policy entry."""

    def import_file(
        request: Request,
        uow: UoW,
        caller: Caller,
        settings: Settings,
        queue: Queue,
        file: Annotated[UploadFile, File(description="CSV (UTF-8, header row) or Parquet")],
        mapping: Annotated[str | None, Form(max_length=10_000, description="JSON: field -> column")] = None,
        mapping_file: Annotated[
            str | None,
            Form(max_length=MAPPING_FILE_CHARACTERS, description="a TOML mapping file: columns, date forms, values"),
        ] = None,
        background: Annotated[bool, Form(description="run as a job even when the file is small")] = False,
    ) -> ImportReport | JSONResponse:
        data, source = _upload(file)
        columns = _mapping(mapping)
        chosen = chosen_mapping(columns, mapping_file)  # a broken mapping is refused before queueing
        frame = read_table(data, name=source, separator=chosen.separator)
        if background or frame.height > INLINE_IMPORT_ROWS:
            del frame
            job = start_records_import(
                uow,
                caller,
                queue,
                settings.home,
                data,
                source=source,
                kind=kind.name,
                mapping=columns,
                mapping_file=mapping_file,
            )
            return _queued(request, job)
        report = import_records(uow, caller, kind, frame, mapping=chosen, source=source, now=utc_now())
        uow.commit()
        return report

    import_file.__doc__ = (
        f"{kind.name.capitalize()} from a file: good rows load in one transaction, each bad row is in the report "
        "with its field, reason and cell; records whose external id is stored already are left as they are."
    )
    router.add_api_route(
        f"/{kind.name}",
        import_file,
        methods=["POST"],
        name=f"import_{kind.name}_file",
        response_model=ImportReport,
        responses=QUEUED,
        openapi_extra=policy(kind.entity, "create"),
    )


for _kind in RECORD_KINDS.values():
    _records_route(_kind)
