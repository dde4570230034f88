"""Activity ingestion from any channel."""

from __future__ import annotations

from fastapi import APIRouter

from crm_core.api.deps import Caller, UoW, policy
from crm_core.clock import utc_now
from crm_core.schemas.activities import ActivityBatch, BatchOutcome
from crm_core.services.activities import ingest

router = APIRouter(prefix="/activities", tags=["activities"])


@router.post("/batch", response_model=BatchOutcome, openapi_extra=policy("activity", "create"))
def ingest_batch(body: ActivityBatch, uow: UoW, caller: Caller) -> BatchOutcome:
    outcome = ingest(uow, caller, body.activities, now=utc_now())
    uow.commit()
    return outcome
