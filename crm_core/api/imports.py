"""Import routes: upload a CSV or Parquet file of contacts and get the full row-by-row report."""

from __future__ import annotations

import json
from typing import Annotated

from fastapi import APIRouter, File, Form, UploadFile

from crm_core.api.body_limit import MAX_UPLOAD_BYTES
from crm_core.api.deps import Caller, UoW, policy
from crm_core.clock import utc_now
from crm_core.errors import ValidationFailedError
from crm_core.imports.contacts import import_contacts
from crm_core.imports.reading import read_table
from crm_core.schemas.imports import ImportReport

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


@router.post("/contacts", response_model=ImportReport, openapi_extra=policy("contact", "create"))
def import_contacts_file(
    uow: UoW,
    caller: Caller,
    file: Annotated[UploadFile, File(description="CSV (UTF-8, header row) or Parquet")],
    mapping: Annotated[str | None, Form(max_length=10_000, description="JSON: field -> column")] = None,
    allow_erased: Annotated[bool, Form(description="load people erased before (flagged either way)")] = False,
) -> ImportReport:
    """All good rows load in one transaction; every bad row is in the report with its reason."""
    data = file.file.read(MAX_UPLOAD_BYTES + 1)
    if len(data) > MAX_UPLOAD_BYTES:
        raise ValidationFailedError("file", f"is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MiB")
    source = "".join(ch for ch in (file.filename or "upload") if ch.isprintable())[:200] or "upload"
    frame = read_table(data, name=source)
    report = import_contacts(
        uow,
        caller,
        frame,
        mapping=_mapping(mapping),
        source=source,
        now=utc_now(),
        allow_erased=allow_erased,
    )
    uow.commit()
    return report
