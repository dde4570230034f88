"""Consent per channel: recorded as history, read as the newest decision per channel.

A contact with no decision for a channel has not consented: audiences are opt-in.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import ColumnElement, Select, and_, func, select

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import Channel, Consent, ConsentStatus
from crm_core.errors import NotFoundError
from crm_core.services import audit
from crm_core.services.access import contact_ids_in_reach
from crm_core.unit_of_work import UnitOfWork


def _latest() -> Select[Any]:
    """The newest consent row per (contact, channel)."""
    ranked = select(
        Consent.id,
        func.row_number()
        .over(
            partition_by=(Consent.contact_id, Consent.channel),
            order_by=(Consent.recorded_at.desc(), Consent.id.desc()),
        )
        .label("rank"),
    ).subquery()
    return select(Consent).join(ranked, and_(ranked.c.id == Consent.id, ranked.c.rank == 1))


def record_consent(
    uow: UnitOfWork,
    principal: Principal,
    contact_id: int,
    channel: Channel,
    status: ConsentStatus,
    source: str,
    *,
    now: datetime,
) -> Consent:
    if contact_id not in contact_ids_in_reach(uow, principal, "consent", Action.CREATE, [contact_id]):
        raise NotFoundError("contact", contact_id)
    row = Consent(contact_id=contact_id, channel=channel.value, status=status.value, source=source, recorded_at=now)
    uow.session.add(row)
    uow.session.flush()
    audit.record(
        uow,
        principal,
        action=f"consent.{status.value}",
        entity="contact",
        entity_id=contact_id,
        changed_fields=[f"consent.{channel.value}"],
        details={"source": source},
        at=now,
    )
    return row


def current_consents(uow: UnitOfWork, principal: Principal, contact_id: int) -> list[Consent]:
    if contact_id not in contact_ids_in_reach(uow, principal, "consent", Action.READ, [contact_id]):
        raise NotFoundError("contact", contact_id)
    query = _latest().where(Consent.contact_id == contact_id).order_by(Consent.channel)
    return list(uow.session.scalars(query))


def consented(contact_id_column: Any, channels: Iterable[Channel]) -> ColumnElement[bool]:
    """SQL condition: the contact's newest decision is 'granted' on every one of `channels`.

    Asked per contact (the newest row of its channel, one lookup on the contact-channel-time
    index), so it costs what the contacts it is asked about cost, not a ranking of every
    consent ever recorded.
    """
    conditions = []
    for channel in channels:
        newest = (
            select(Consent.status)
            .where(Consent.contact_id == contact_id_column, Consent.channel == channel.value)
            .order_by(Consent.recorded_at.desc(), Consent.id.desc())
            .limit(1)
            .scalar_subquery()
        )
        conditions.append(newest == ConsentStatus.GRANTED.value)
    return and_(*conditions)
