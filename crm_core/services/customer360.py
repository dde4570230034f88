"""Assembling the customer 360 view, section by section, each under its own policy entry."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from crm_core.auth.policy import Action, Scope
from crm_core.auth.principal import Principal
from crm_core.entities import Account, Activity, Deal, Order, Ticket
from crm_core.schemas.catalogue import OrderPublic
from crm_core.schemas.customer360 import ActivityPublic, Customer360
from crm_core.schemas.deals import DealPublic
from crm_core.schemas.records import AccountPublic
from crm_core.schemas.tickets import TicketPublic
from crm_core.services.profiles import get_contact_profile
from crm_core.services.recommendations import latest_recommendations
from crm_core.unit_of_work import UnitOfWork

SECTION_LIMIT = 50


def _may_read(principal: Principal, entity: str) -> bool:
    return principal.scope(entity, Action.READ) is not Scope.NONE


def _section(
    uow: UnitOfWork, principal: Principal, entity: str, model: Any, contact_id: int, newest_first: Any
) -> list[Any]:
    """The contact's newest rows of `model`, or none when the role may not read `entity`."""
    if not _may_read(principal, entity):
        return []
    query = select(model).where(model.contact_id == contact_id).order_by(newest_first.desc()).limit(SECTION_LIMIT)
    return list(uow.session.scalars(query))


def get_customer_360(uow: UnitOfWork, principal: Principal, contact_id: int) -> Customer360:
    """The contact (404 if out of reach) and, for each section the role may read, its newest rows.

    Deals, tickets, orders and activities are reached through the contact, so the contact's
    reach decides; a section the role may not read at all comes back empty.
    """
    profile = get_contact_profile(uow, principal, contact_id)
    account = None
    if profile.contact.account_id is not None and _may_read(principal, "account"):
        row = uow.session.get(Account, profile.contact.account_id)
        account = AccountPublic.model_validate(row) if row is not None else None
    return Customer360(
        contact=profile.contact,
        account=account,
        scores=profile.scores,
        unscored=profile.unscored,
        timeline=[
            ActivityPublic.model_validate(row)
            for row in _section(uow, principal, "activity", Activity, contact_id, Activity.occurred_at)
        ],
        deals=[
            DealPublic.model_validate(row) for row in _section(uow, principal, "deal", Deal, contact_id, Deal.opened_at)
        ],
        tickets=[
            TicketPublic.model_validate(row)
            for row in _section(uow, principal, "ticket", Ticket, contact_id, Ticket.opened_at)
        ],
        orders=[
            OrderPublic.model_validate(row)
            for row in _section(uow, principal, "order", Order, contact_id, Order.ordered_at)
        ],
        recommendations=latest_recommendations(uow, contact_id) if _may_read(principal, "recommendation") else [],
    )
