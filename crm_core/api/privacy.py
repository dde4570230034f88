"""A person's rights over their data: a copy of everything held, and erasure."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.encoders import jsonable_encoder
from pydantic import BaseModel, ConfigDict

from crm_core.api.deps import Caller, UoW, policy
from crm_core.clock import utc_now
from crm_core.entities import ErasureReason
from crm_core.schemas.common import NoNulInput, RecordId
from crm_core.services.erasure import erase_person, scrub_freed_space
from crm_core.services.subject_export import subject_export

router = APIRouter(prefix="/contacts", tags=["privacy"])


class ErasureRequest(NoNulInput):
    model_config = ConfigDict(extra="forbid")

    reason: ErasureReason


class ErasureReceipt(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact_id: int
    rows_deleted: dict[str, int]
    deals_unlinked: int
    features_purge: str = "pending: runs with the next feature build or 'crm-intel erase --pending'"


@router.get("/{contact_id}/subject-export", openapi_extra=policy("data_subject", "export"))
def export_subject(contact_id: RecordId, uow: UoW, caller: Caller) -> dict[str, Any]:
    document = subject_export(uow, caller, contact_id, now=utc_now())
    uow.commit()
    encoded: dict[str, Any] = jsonable_encoder(document)
    return encoded


@router.post("/{contact_id}/erasure", response_model=ErasureReceipt, openapi_extra=policy("data_subject", "delete"))
def erase_contact(contact_id: RecordId, body: ErasureRequest, uow: UoW, caller: Caller) -> ErasureReceipt:
    result = erase_person(uow, caller, contact_id, body.reason, now=utc_now())
    uow.commit()
    scrub_freed_space(uow)
    return ErasureReceipt(
        contact_id=result.contact_id, rows_deleted=result.rows_deleted, deals_unlinked=result.deals_unlinked
    )
