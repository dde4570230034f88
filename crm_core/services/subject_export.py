"""A copy of everything the CRM holds about one person, for a subject access request.

Full values (decrypted), because the person is entitled to see them; only administrators may
run it, and each run is audited.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import (
    Account,
    Activity,
    AuditEvent,
    Consent,
    Contact,
    ContactChange,
    Deal,
    Order,
    OrderLine,
    PopulationState,
    Prediction,
    ProductRecommendation,
    ShadowPrediction,
    Ticket,
)
from crm_core.errors import NotFoundError
from crm_core.schemas.profiles import ContactPublic
from crm_core.services import audit
from crm_core.unit_of_work import UnitOfWork


def _rows(uow: UnitOfWork, model: Any, *where: Any, skip: tuple[str, ...] = ()) -> list[dict[str, Any]]:
    columns = [column.key for column in model.__table__.columns if column.key not in skip]
    return [
        {name: getattr(row, name) for name in columns}
        for row in uow.session.scalars(select(model).where(*where).order_by(*model.__table__.primary_key.columns))
    ]


def subject_export(uow: UnitOfWork, principal: Principal, contact_id: int, *, now: datetime) -> dict[str, Any]:
    principal.require("data_subject", Action.EXPORT)
    contact = uow.session.get(Contact, contact_id)
    if contact is None:
        raise NotFoundError("contact", contact_id)
    account = uow.session.get(Account, contact.account_id) if contact.account_id is not None else None
    order_ids = select(Order.id).where(Order.contact_id == contact_id)
    document = {
        "exported_at": now,
        # Every field of the public shape, unmasked: the person is entitled to all of it.
        "contact": {name: getattr(contact, name) for name in ContactPublic.model_fields},
        "account": None if account is None else {"id": account.id, "name": account.name},
        "consents": _rows(uow, Consent, Consent.contact_id == contact_id, skip=("contact_id",)),
        "stage_and_field_history": _rows(
            uow, ContactChange, ContactChange.contact_id == contact_id, skip=("contact_id",)
        ),
        "activities": _rows(uow, Activity, Activity.contact_id == contact_id, skip=("contact_id",)),
        "tickets": _rows(uow, Ticket, Ticket.contact_id == contact_id, skip=("contact_id",)),
        "orders": _rows(uow, Order, Order.contact_id == contact_id, skip=("contact_id",)),
        "order_lines": _rows(uow, OrderLine, OrderLine.order_id.in_(order_ids)),
        "deals": _rows(uow, Deal, Deal.contact_id == contact_id, skip=("contact_id",)),
        "scores": _rows(uow, Prediction, Prediction.contact_id == contact_id, skip=("contact_id",)),
        "shadow_scores": _rows(uow, ShadowPrediction, ShadowPrediction.contact_id == contact_id, skip=("contact_id",)),
        "unscored_because": _rows(uow, PopulationState, PopulationState.contact_id == contact_id, skip=("contact_id",)),
        "recommendations": _rows(
            uow, ProductRecommendation, ProductRecommendation.contact_id == contact_id, skip=("contact_id",)
        ),
        "changes_recorded": _rows(
            uow,
            AuditEvent,
            AuditEvent.entity == "contact",
            AuditEvent.entity_id == str(contact_id),
            skip=("prev_hash", "hash", "actor_user_id"),
        ),
    }
    audit.record(uow, principal, action="contact.subject_export", entity="contact", entity_id=contact_id, at=now)
    return document
