"""Account routes: list, read, create, update."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, status

from crm_core.api.custom_fields import CustomFilter
from crm_core.api.deps import Caller, UoW, policy
from crm_core.api.listing import ExternalIdFilter, equal_to, page_request
from crm_core.auth.policy import Action
from crm_core.clock import utc_now
from crm_core.entities import Account
from crm_core.schemas.common import Page, RecordId
from crm_core.schemas.records import AccountCreate, AccountPublic, AccountUpdate
from crm_core.services.custom_fields import custom_filters
from crm_core.services.kinds import ACCOUNTS
from crm_core.services.owned_records import create_record, get_record, list_records, update_record
from crm_core.services.pagination import PageRequest

router = APIRouter(prefix="/accounts", tags=["accounts"])


@router.get("", response_model=Page[AccountPublic], openapi_extra=policy("account", "read"))
def list_accounts(
    uow: UoW,
    caller: Caller,
    page: Annotated[PageRequest, Depends(page_request)],
    owner_id: RecordId | None = None,
    industry: Annotated[str | None, Query(max_length=80)] = None,
    custom: CustomFilter = None,
    external_id: ExternalIdFilter = None,
) -> Page[AccountPublic]:
    filters = equal_to((Account.external_id, external_id), (Account.owner_id, owner_id), (Account.industry, industry))
    filters.extend(custom_filters(uow, "account", Account.custom, custom))
    rows, next_cursor = list_records(uow, caller, ACCOUNTS, page, filters)
    return Page[AccountPublic](items=[AccountPublic.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/{account_id}", response_model=AccountPublic, openapi_extra=policy("account", "read"))
def read_account(account_id: RecordId, uow: UoW, caller: Caller) -> AccountPublic:
    return AccountPublic.model_validate(get_record(uow, caller, ACCOUNTS, account_id, Action.READ))


@router.post(
    "", response_model=AccountPublic, status_code=status.HTTP_201_CREATED, openapi_extra=policy("account", "create")
)
def create_account(body: AccountCreate, uow: UoW, caller: Caller) -> AccountPublic:
    account = create_record(uow, caller, ACCOUNTS, body.model_dump(), now=utc_now())
    uow.commit()
    return AccountPublic.model_validate(account)


@router.patch("/{account_id}", response_model=AccountPublic, openapi_extra=policy("account", "update"))
def update_account(account_id: RecordId, body: AccountUpdate, uow: UoW, caller: Caller) -> AccountPublic:
    account = update_record(uow, caller, ACCOUNTS, account_id, body.model_dump(exclude_unset=True), now=utc_now())
    uow.commit()
    return AccountPublic.model_validate(account)
