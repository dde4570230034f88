"""Segments: everyone who may read contacts lists them and reads their (reach-filtered)
members; marketers and admins define rule segments, evaluated at once and after every scoring."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from crm_core.api.deps import Caller, UoW, policy
from crm_core.api.listing import page_request
from crm_core.clock import utc_now
from crm_core.schemas.common import Page, RecordId
from crm_core.schemas.profiles import ContactPublic, present_contact
from crm_core.schemas.segments import SegmentCreate, SegmentPublic
from crm_core.services.kinds import CONTACTS
from crm_core.services.owned_records import list_records
from crm_core.services.pagination import PageRequest
from crm_core.services.segments import create_rule_segment, get_segment, list_segments, member_filter

router = APIRouter(prefix="/segments", tags=["segments"])


@router.get("", response_model=list[SegmentPublic], openapi_extra=policy("segment", "read"))
def read_segments(uow: UoW, caller: Caller) -> list[SegmentPublic]:
    return [SegmentPublic.model_validate(segment) for segment in list_segments(uow, caller)]


@router.post(
    "", response_model=SegmentPublic, status_code=status.HTTP_201_CREATED, openapi_extra=policy("segment", "create")
)
def create_segment(body: SegmentCreate, uow: UoW, caller: Caller) -> SegmentPublic:
    segment = create_rule_segment(uow, caller, body, utc_now())
    uow.commit()
    return SegmentPublic.model_validate(segment)


@router.get("/{segment_id}/members", response_model=Page[ContactPublic], openapi_extra=policy("segment", "read"))
def read_members(
    segment_id: RecordId, uow: UoW, caller: Caller, page: Annotated[PageRequest, Depends(page_request)]
) -> Page[ContactPublic]:
    segment = get_segment(uow, caller, segment_id)
    rows, next_cursor = list_records(uow, caller, CONTACTS, page, [member_filter(segment.id)])
    return Page[ContactPublic](items=[present_contact(row, caller.role) for row in rows], next_cursor=next_cursor)
