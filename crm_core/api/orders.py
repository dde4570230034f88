"""Order routes: list, read with lines, place, and change status."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from crm_core.api.deps import Caller, UoW, policy
from crm_core.api.listing import ExternalIdFilter, equal_to, page_request
from crm_core.auth.policy import Action
from crm_core.clock import utc_now
from crm_core.entities import Order
from crm_core.schemas.catalogue import OrderCreate, OrderDetail, OrderLinePublic, OrderPublic, OrderStatus, OrderUpdate
from crm_core.schemas.common import InUtc, Page, RecordId
from crm_core.services.kinds import ORDERS
from crm_core.services.orders import order_lines, place_order
from crm_core.services.owned_records import get_record, list_records, update_record
from crm_core.services.pagination import PageRequest
from crm_core.unit_of_work import UnitOfWork

router = APIRouter(prefix="/orders", tags=["orders"])


def _detail(uow: UnitOfWork, order: Order) -> OrderDetail:
    lines = [OrderLinePublic.model_validate(line) for line in order_lines(uow, order.id)]
    return OrderDetail.model_validate(OrderPublic.model_validate(order).model_dump() | {"lines": lines})


@router.get("", response_model=Page[OrderPublic], openapi_extra=policy("order", "read"))
def list_orders(
    uow: UoW,
    caller: Caller,
    page: Annotated[PageRequest, Depends(page_request)],
    contact_id: RecordId | None = None,
    status: OrderStatus | None = None,
    ordered_after: InUtc | None = None,
    external_id: ExternalIdFilter = None,
) -> Page[OrderPublic]:
    filters = equal_to((Order.external_id, external_id), (Order.contact_id, contact_id), (Order.status, status))
    if ordered_after is not None:
        filters.append(Order.ordered_at >= ordered_after)
    rows, next_cursor = list_records(uow, caller, ORDERS, page, filters)
    return Page[OrderPublic](items=[OrderPublic.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/{order_id}", response_model=OrderDetail, openapi_extra=policy("order", "read"))
def read_order(order_id: RecordId, uow: UoW, caller: Caller) -> OrderDetail:
    return _detail(uow, get_record(uow, caller, ORDERS, order_id, Action.READ))


@router.post(
    "", response_model=OrderDetail, status_code=status.HTTP_201_CREATED, openapi_extra=policy("order", "create")
)
def create_order(body: OrderCreate, uow: UoW, caller: Caller) -> OrderDetail:
    order = place_order(
        uow,
        caller,
        body.contact_id,
        [line.model_dump() for line in body.lines],
        {"status": body.status.value, "ordered_at": body.ordered_at, "external_id": body.external_id},
        now=utc_now(),
    )
    uow.commit()
    return _detail(uow, order)


@router.patch("/{order_id}", response_model=OrderPublic, openapi_extra=policy("order", "update"))
def update_order(order_id: RecordId, body: OrderUpdate, uow: UoW, caller: Caller) -> OrderPublic:
    order = update_record(uow, caller, ORDERS, order_id, {"status": body.status.value}, now=utc_now())
    uow.commit()
    return OrderPublic.model_validate(order)
