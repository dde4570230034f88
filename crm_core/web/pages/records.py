"""Accounts, the deals pipeline board and the tickets list: plain pages over the same services."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Form, Path, Query, Request, Response
from fastapi.responses import RedirectResponse
from sqlalchemy import select

from crm_core.api.deps import UoW
from crm_core.auth.policy import Action
from crm_core.clock import utc_now
from crm_core.entities import Contact, Deal, DealStage, Ticket
from crm_core.errors import ValidationFailedError
from crm_core.schemas.tickets import TicketStatus
from crm_core.services.deals import move_stage
from crm_core.services.kinds import ACCOUNTS, CONTACTS, DEALS, TICKETS
from crm_core.services.owned_records import get_record, list_records
from crm_core.services.pagination import PageRequest
from crm_core.services.tickets import change_ticket
from crm_core.web.session import Csrf, Viewer
from crm_core.web.templating import pages_of

router = APIRouter()

PAGE = 25
BOARD_COLUMN = 30
OPEN_STAGES = (DealStage.PROSPECTING, DealStage.QUALIFICATION, DealStage.PROPOSAL, DealStage.NEGOTIATION)
Cursor = Annotated[str | None, Query(max_length=400)]


@router.get("/accounts")
def accounts(
    request: Request, uow: UoW, viewer: Viewer, q: Annotated[str, Query(max_length=100)] = "", cursor: Cursor = None
) -> Response:
    filters = [ACCOUNTS.column("name").ilike(f"%{q.replace('%', '')}%")] if q.strip() else []
    rows, next_cursor = list_records(
        uow, viewer, ACCOUNTS, PageRequest(limit=PAGE, cursor=cursor, sort="name"), filters
    )
    return pages_of(request).render(request, "accounts.html", accounts=rows, next_cursor=next_cursor, q=q)


@router.get("/accounts/{account_id}")
def account(request: Request, uow: UoW, viewer: Viewer, account_id: int = Path(ge=1, le=2**62)) -> Response:
    record = get_record(uow, viewer, ACCOUNTS, account_id, Action.READ)
    people, _ = list_records(
        uow, viewer, CONTACTS, PageRequest(limit=100, sort="last_name"), [Contact.account_id == account_id]
    )
    deals, _ = list_records(
        uow, viewer, DEALS, PageRequest(limit=100, sort="opened_at", descending=True), [Deal.account_id == account_id]
    )
    return pages_of(request).render(request, "account.html", account=record, people=people, deals=deals)


@router.get("/deals")
def deals_board(request: Request, uow: UoW, viewer: Viewer) -> Response:
    """Open deals by stage, biggest first, plus the latest won and lost."""
    columns = []
    for stage in (*OPEN_STAGES, DealStage.CLOSED_WON, DealStage.CLOSED_LOST):
        sort = "amount" if stage in OPEN_STAGES else "opened_at"
        rows, more = list_records(
            uow, viewer, DEALS, PageRequest(limit=BOARD_COLUMN, sort=sort, descending=True), [Deal.stage == stage.value]
        )
        columns.append((stage.value, rows, more is not None))
    names = _contact_names(uow, [deal.contact_id for _, rows, _ in columns for deal in rows if deal.contact_id])
    stages = [stage.value for stage in DealStage]
    return pages_of(request).render(request, "deals.html", columns=columns, names=names, stages=stages)


@router.post("/deals/{deal_id}/stage", dependencies=[Csrf])
def deal_stage(
    request: Request,
    uow: UoW,
    viewer: Viewer,
    stage: Annotated[str, Form(max_length=40)],
    deal_id: int = Path(ge=1, le=2**62),
) -> Response:
    try:
        target = DealStage(stage)
    except ValueError as error:
        raise ValidationFailedError("stage", f"'{stage}' is not a pipeline stage") from error
    move_stage(uow, viewer, deal_id, target, now=utc_now())
    uow.commit()
    return RedirectResponse(f"{pages_of(request).prefix}/deals", status_code=303)


@router.get("/tickets")
def tickets(
    request: Request,
    uow: UoW,
    viewer: Viewer,
    status: Annotated[str, Query(max_length=20)] = "",
    cursor: Cursor = None,
) -> Response:
    statuses = [item.value for item in TicketStatus]
    filters = [Ticket.status == status] if status in statuses else []
    page = PageRequest(limit=PAGE, cursor=cursor, sort="opened_at", descending=True)
    rows, next_cursor = list_records(uow, viewer, TICKETS, page, filters)
    names = _contact_names(uow, [ticket.contact_id for ticket in rows])
    return pages_of(request).render(
        request, "tickets.html", tickets=rows, names=names, statuses=statuses, status=status, next_cursor=next_cursor
    )


@router.post("/tickets/{ticket_id}/status", dependencies=[Csrf])
def ticket_status(
    request: Request,
    uow: UoW,
    viewer: Viewer,
    status: Annotated[str, Form(max_length=20)],
    ticket_id: int = Path(ge=1, le=2**62),
) -> Response:
    try:
        target = TicketStatus(status)
    except ValueError as error:
        raise ValidationFailedError("status", f"'{status}' is not a ticket status") from error
    change_ticket(uow, viewer, ticket_id, {"status": target.value}, now=utc_now())
    uow.commit()
    return RedirectResponse(f"{pages_of(request).prefix}/tickets", status_code=303)


def _contact_names(uow: UoW, contact_ids: list[int]) -> dict[int, str]:
    """Names for contacts already reached through a record the viewer may read."""
    if not contact_ids:
        return {}
    rows = uow.session.execute(
        select(Contact.id, Contact.first_name, Contact.last_name).where(Contact.id.in_(set(contact_ids)))
    )
    return {row.id: f"{row.first_name} {row.last_name}".strip() for row in rows}
