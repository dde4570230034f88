"""Ticket routes: list with filters, read, open, and update (status, priority, rating)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, status

from crm_core.api.deps import Caller, UoW, policy
from crm_core.api.listing import ExternalIdFilter, equal_to, page_request
from crm_core.auth.policy import Action
from crm_core.clock import utc_now
from crm_core.entities import Channel, Ticket
from crm_core.schemas.common import Page, RecordId
from crm_core.schemas.tickets import TicketCreate, TicketPriority, TicketPublic, TicketStatus, TicketUpdate
from crm_core.services.kinds import TICKETS
from crm_core.services.owned_records import get_record, list_records
from crm_core.services.pagination import PageRequest
from crm_core.services.tickets import change_ticket, open_ticket

router = APIRouter(prefix="/tickets", tags=["tickets"])


@router.get("", response_model=Page[TicketPublic], openapi_extra=policy("ticket", "read"))
def list_tickets(
    uow: UoW,
    caller: Caller,
    page: Annotated[PageRequest, Depends(page_request)],
    contact_id: RecordId | None = None,
    status: TicketStatus | None = None,
    priority: TicketPriority | None = None,
    channel: Channel | None = None,
    external_id: ExternalIdFilter = None,
) -> Page[TicketPublic]:
    filters = equal_to(
        (Ticket.external_id, external_id),
        (Ticket.contact_id, contact_id),
        (Ticket.status, status),
        (Ticket.priority, priority),
        (Ticket.channel, channel),
    )
    rows, next_cursor = list_records(uow, caller, TICKETS, page, filters)
    return Page[TicketPublic](items=[TicketPublic.model_validate(row) for row in rows], next_cursor=next_cursor)


@router.get("/{ticket_id}", response_model=TicketPublic, openapi_extra=policy("ticket", "read"))
def read_ticket(ticket_id: RecordId, uow: UoW, caller: Caller) -> TicketPublic:
    return TicketPublic.model_validate(get_record(uow, caller, TICKETS, ticket_id, Action.READ))


@router.post(
    "", response_model=TicketPublic, status_code=status.HTTP_201_CREATED, openapi_extra=policy("ticket", "create")
)
def create_ticket(body: TicketCreate, uow: UoW, caller: Caller) -> TicketPublic:
    values = body.model_dump() | {"channel": body.channel.value, "priority": body.priority.value}
    ticket = open_ticket(uow, caller, values, now=utc_now())
    uow.commit()
    return TicketPublic.model_validate(ticket)


@router.patch("/{ticket_id}", response_model=TicketPublic, openapi_extra=policy("ticket", "update"))
def update_ticket(ticket_id: RecordId, body: TicketUpdate, uow: UoW, caller: Caller) -> TicketPublic:
    changes = {
        name: value.value if isinstance(value, TicketStatus | TicketPriority) else value
        for name, value in body.model_dump(exclude_unset=True).items()
    }
    ticket = change_ticket(uow, caller, ticket_id, changes, now=utc_now())
    uow.commit()
    return TicketPublic.model_validate(ticket)
