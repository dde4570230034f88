"""Export routes: contacts as CSV or Parquet, under the caller's reach, consent and masking."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from crm_core.api.deps import Caller, UoW, policy
from crm_core.api.listing import equal_to
from crm_core.clock import utc_now
from crm_core.entities import Channel, Contact
from crm_core.schemas.common import RecordId
from crm_core.schemas.records import LifecycleStage
from crm_core.services.contact_export import MAX_EXPORT_ROWS, ExportFormat, export_contacts

router = APIRouter(prefix="/exports", tags=["exports"])


@router.get(
    "/contacts",
    openapi_extra=policy("contact", "export"),
    response_class=Response,
    responses={200: {"content": {"text/csv": {}, "application/vnd.apache.parquet": {}}}},
)
def export_contacts_file(
    uow: UoW,
    caller: Caller,
    format: ExportFormat = ExportFormat.CSV,
    consent: Annotated[list[Channel] | None, Query(description="only people opted in on every channel")] = None,
    lifecycle_stage: LifecycleStage | None = None,
    owner_id: RecordId | None = None,
    limit: Annotated[int, Query(ge=1, le=MAX_EXPORT_ROWS)] = MAX_EXPORT_ROWS,
) -> Response:
    """The file, with X-Row-Count and X-Truncated headers (truncated: more rows than the cap)."""
    export = export_contacts(
        uow,
        caller,
        file_format=format,
        consent=consent or [],
        filters=equal_to((Contact.lifecycle_stage, lifecycle_stage), (Contact.owner_id, owner_id)),
        limit=limit,
        now=utc_now(),
    )
    uow.commit()
    return Response(
        content=export.content,
        media_type=export.media_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.filename}"',
            "X-Row-Count": str(export.rows),
            "X-Truncated": str(export.truncated).lower(),
        },
    )
