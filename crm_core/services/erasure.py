"""Erasing a person: every row about them leaves the CRM in one transaction, and the erasure
register keeps only keyed hashes, so the person can be recognised (and held back) if an old
file brings them back, without anything readable about them staying behind.

Deals tied to an account stay as the account's revenue history with the person unlinked;
deals with no account go with the person. Audit events stay: they name fields, never values.
Feature snapshots and the online store are purged by the feature side (see `pending_purges`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import delete, select, update

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import (
    Activity,
    Consent,
    Contact,
    ContactChange,
    CurrentScore,
    Deal,
    DealStageChange,
    Erasure,
    ErasureReason,
    Order,
    OrderLine,
    PopulationState,
    Prediction,
    ProductRecommendation,
    RescoreRequest,
    SegmentMember,
    ShadowPrediction,
    Ticket,
)
from crm_core.errors import NotFoundError
from crm_core.services import audit
from crm_core.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ErasureResult:
    contact_id: int
    rows_deleted: dict[str, int]
    deals_unlinked: int


def erase_person(
    uow: UnitOfWork, principal: Principal, contact_id: int, reason: ErasureReason, *, now: datetime
) -> ErasureResult:
    principal.require("data_subject", Action.DELETE)
    contact = uow.session.get(Contact, contact_id)
    if contact is None:
        raise NotFoundError("contact", contact_id)
    session = uow.session
    session.add(
        Erasure(
            contact_id=contact_id,
            email_hash=contact.email_hash,
            phone_hash=contact.phone_hash,
            erased_at=now,
            reason=reason.value,
        )
    )
    orders = select(Order.id).where(Order.contact_id == contact_id)
    solo_deals = select(Deal.id).where(Deal.contact_id == contact_id, Deal.account_id.is_(None))
    deleted: dict[str, int] = {}
    for name, statement in (
        ("current_scores", delete(CurrentScore).where(CurrentScore.contact_id == contact_id)),
        ("population_states", delete(PopulationState).where(PopulationState.contact_id == contact_id)),
        ("rescore_requests", delete(RescoreRequest).where(RescoreRequest.contact_id == contact_id)),
        ("predictions", delete(Prediction).where(Prediction.contact_id == contact_id)),
        ("shadow_predictions", delete(ShadowPrediction).where(ShadowPrediction.contact_id == contact_id)),
        ("segment_members", delete(SegmentMember).where(SegmentMember.contact_id == contact_id)),
        (
            "recommendations",
            delete(ProductRecommendation).where(ProductRecommendation.contact_id == contact_id),
        ),
        ("activities", delete(Activity).where(Activity.contact_id == contact_id)),
        ("consents", delete(Consent).where(Consent.contact_id == contact_id)),
        ("contact_changes", delete(ContactChange).where(ContactChange.contact_id == contact_id)),
        ("tickets", delete(Ticket).where(Ticket.contact_id == contact_id)),
        ("order_lines", delete(OrderLine).where(OrderLine.order_id.in_(orders))),
        ("orders", delete(Order).where(Order.contact_id == contact_id)),
        ("deal_stage_history", delete(DealStageChange).where(DealStageChange.deal_id.in_(solo_deals))),
        ("deals", delete(Deal).where(Deal.id.in_(solo_deals))),
    ):
        deleted[name] = session.execute(statement, execution_options={"synchronize_session": False}).rowcount  # type: ignore[attr-defined]
    unlinked = session.execute(
        update(Deal).where(Deal.contact_id == contact_id).values(contact_id=None),
        execution_options={"synchronize_session": False},
    ).rowcount  # type: ignore[attr-defined]
    session.delete(contact)
    session.flush()
    deleted["contacts"] = 1
    audit.record(
        uow,
        principal,
        action="contact.erase",
        entity="contact",
        entity_id=contact_id,
        details={"reason": reason.value, "rows_deleted": deleted, "deals_unlinked": unlinked},
        at=now,
    )
    return ErasureResult(contact_id, deleted, unlinked)


def pending_purges(uow: UnitOfWork) -> list[int]:
    """Erased contacts not yet purged from feature snapshots and the online store."""
    query = select(Erasure.contact_id).where(Erasure.features_purged_at.is_(None)).order_by(Erasure.contact_id)
    return list(uow.session.scalars(query))


def mark_purged(uow: UnitOfWork, contact_ids: list[int], *, now: datetime) -> None:
    uow.session.execute(update(Erasure).where(Erasure.contact_id.in_(contact_ids)).values(features_purged_at=now))


def scrub_freed_space(uow: UnitOfWork) -> None:
    """After an erasure commits, leave no copy of the deleted rows in the database files.

    SQLite: the engine runs with `secure_delete` on (deleted content is zeroed in the database
    pages), and this checkpoints the write-ahead log and truncates it, since the log still holds
    the page images written before the delete. PostgreSQL keeps dead row versions until VACUUM
    reclaims them; its autovacuum does so on its own schedule.
    """
    connection = uow.session.connection()
    if connection.dialect.name == "sqlite":
        connection.exec_driver_sql("PRAGMA wal_checkpoint(TRUNCATE)")
    uow.session.rollback()
