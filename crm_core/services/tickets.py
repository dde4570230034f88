"""Ticket rules on top of the generic record service: resolution time follows the status."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.clock import stamped
from crm_core.entities import Ticket
from crm_core.errors import ValidationFailedError
from crm_core.schemas.tickets import DONE_STATUSES, TicketStatus
from crm_core.services.kinds import TICKETS
from crm_core.services.owned_records import create_record, get_record, update_record
from crm_core.unit_of_work import UnitOfWork


def open_ticket(uow: UnitOfWork, principal: Principal, values: dict[str, Any], *, now: datetime) -> Ticket:
    opened_at = stamped(values.get("opened_at"), now, "opened_at")
    ticket: Ticket = create_record(
        uow, principal, TICKETS, values | {"opened_at": opened_at, "status": TicketStatus.OPEN.value}, now=now
    )
    return ticket


def change_ticket(
    uow: UnitOfWork, principal: Principal, ticket_id: int, changes: dict[str, Any], *, now: datetime
) -> Ticket:
    """Entering a done status stamps `resolved_at`; reopening clears it and the rating."""
    ticket: Ticket = get_record(uow, principal, TICKETS, ticket_id, Action.UPDATE)
    status = changes.get("status")
    if status is not None:
        done = TicketStatus(status) in DONE_STATUSES
        if done and ticket.resolved_at is None:
            changes["resolved_at"] = now
        elif not done:
            changes |= {"resolved_at": None, "satisfaction": None}
    final_status = TicketStatus(status or ticket.status)
    if changes.get("satisfaction") is not None and final_status not in DONE_STATUSES:
        raise ValidationFailedError("satisfaction", "only resolved or closed tickets are rated")
    updated: Ticket = update_record(uow, principal, TICKETS, ticket_id, changes, now=now)
    return updated
