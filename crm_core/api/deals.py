"""Deal routes: list, read, open, update, move stage, and the stage history."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from crm_core.api.custom_fields import CustomFilter
from crm_core.api.deps import Caller, UoW, policy
from crm_core.api.listing import ExternalIdFilter, equal_to, page_request
from crm_core.auth.policy import Action
from crm_core.clock import utc_now
from crm_core.entities import Deal, DealStage
from crm_core.schemas.common import Page, RecordId
from crm_core.schemas.deals import DealCreate, DealPublic, DealUpdate, StageChange, StageChangePublic
from crm_core.services.custom_fields import custom_filters
from crm_core.services.deals import move_stage, open_deal, stage_history
from crm_core.services.kinds import DEALS
from crm_core.services.owned_records import get_record, list_records, update_record
from crm_core.services.pagination import PageRequest

router = APIRouter(prefix="/deals", tags=["deals"])


@router.get("", response_model=Page[DealPublic], openapi_extra=policy("deal", "read"))
def list_deals(
    uow: UoW,
    caller: Caller,
    page: Annotated[PageRequest, Depends(page_request)],
    stage: DealStage | None = None,
    owner_id: RecordId | None = None,
    account_id: RecordId | None = None,
    custom: CustomFilter = None,
    external_id: ExternalIdFilter = None,
) -> Page[DealPublic]:
    filters = equal_to(
        (Deal.external_id, external_id), (Deal.stage, stage), (Deal.owner_id, owner_id), (Deal.account_id, account_id)
    )
    filters.extend(custom_filters(uow, "deal", Deal.custom, custom))
    rows, next_cursor = list_records(uow, caller, DEALS, page, filters)
    return Page[DealPublic](items=[DealPublic.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/{deal_id}", response_model=DealPublic, openapi_extra=policy("deal", "read"))
def read_deal(deal_id: RecordId, uow: UoW, caller: Caller) -> DealPublic:
    return DealPublic.model_validate(get_record(uow, caller, DEALS, deal_id, Action.READ))


@router.post("", response_model=DealPublic, status_code=status.HTTP_201_CREATED, openapi_extra=policy("deal", "create"))
def create_deal(body: DealCreate, uow: UoW, caller: Caller) -> DealPublic:
    deal = open_deal(uow, caller, body.model_dump(), now=utc_now())
    uow.commit()
    return DealPublic.model_validate(deal)


@router.patch("/{deal_id}", response_model=DealPublic, openapi_extra=policy("deal", "update"))
def update_deal(deal_id: RecordId, body: DealUpdate, uow: UoW, caller: Caller) -> DealPublic:
    deal = update_record(uow, caller, DEALS, deal_id, body.model_dump(exclude_unset=True), now=utc_now())
    uow.commit()
    return DealPublic.model_validate(deal)


@router.post("/{deal_id}/stage", response_model=DealPublic, openapi_extra=policy("deal", "update"))
def change_stage(deal_id: RecordId, body: StageChange, uow: UoW, caller: Caller) -> DealPublic:
    deal = move_stage(uow, caller, deal_id, body.stage, now=utc_now(), changed_at=body.changed_at)
    uow.commit()
    return DealPublic.model_validate(deal)


@router.get("/{deal_id}/history", response_model=list[StageChangePublic], openapi_extra=policy("deal", "read"))
def read_history(deal_id: RecordId, uow: UoW, caller: Caller) -> list[StageChangePublic]:
    return [StageChangePublic.model_validate(row) for row in stage_history(uow, caller, deal_id)]
