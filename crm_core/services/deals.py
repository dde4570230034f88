"""Deal pipeline rules: which stage moves are allowed, and a history row for every move.

Open deals may move to any other open stage (forward or back, as real pipelines do) or close
as won or lost; a closed deal never changes stage again. Every move, including the first
stage, is written to the stage history in the same transaction. A deal brought from another
system keeps its own dates: it opens when it opened, and each move is stamped when it happened,
in order (never before the move before it, never in the future), so the history stays a history.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import func, select

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.clock import stamped
from crm_core.entities import Deal, DealStage, DealStageChange
from crm_core.errors import ValidationFailedError
from crm_core.services import audit
from crm_core.services.kinds import DEALS
from crm_core.services.owned_records import create_record, get_record
from crm_core.services.rescoring import request_rescore
from crm_core.unit_of_work import UnitOfWork

CLOSING = {DealStage.CLOSED_WON: "won", DealStage.CLOSED_LOST: "lost"}


def check_transition(current: DealStage, target: DealStage) -> None:
    if current in CLOSING:
        raise ValidationFailedError("stage", f"deal is {current.value}; closed deals do not change stage")
    if target == current:
        raise ValidationFailedError("stage", f"deal is already in {current.value}")


def open_deal(uow: UnitOfWork, principal: Principal, values: dict[str, Any], *, now: datetime) -> Any:
    stage = DealStage(values.pop("stage"))
    if stage in CLOSING:
        raise ValidationFailedError("stage", "a new deal starts in an open stage")
    opened_at = stamped(values.get("opened_at"), now, "opened_at")
    opening = values | {"stage": stage.value, "status": "open", "opened_at": opened_at}
    deal = create_record(uow, principal, DEALS, opening, now=now)
    uow.session.add(DealStageChange(deal_id=deal.id, from_stage=None, to_stage=stage.value, changed_at=opened_at))
    return deal


def move_stage(
    uow: UnitOfWork,
    principal: Principal,
    deal_id: int,
    target: DealStage,
    *,
    now: datetime,
    changed_at: datetime | None = None,
) -> Deal:
    """Move the deal to `target`, stamped `changed_at` (a past move brought in) or now."""
    deal: Deal = get_record(uow, principal, DEALS, deal_id, Action.UPDATE)
    current = DealStage(deal.stage)
    check_transition(current, target)
    at = now if changed_at is None else _past_move_time(uow, deal, stamped(changed_at, now, "changed_at"))
    uow.session.add(DealStageChange(deal_id=deal.id, from_stage=current.value, to_stage=target.value, changed_at=at))
    deal.stage = target.value
    changed = ["stage"]
    if target in CLOSING:
        deal.status, deal.closed_at = CLOSING[target], at
        changed += ["status", "closed_at"]
    uow.session.flush()
    request_rescore(uow, [deal.contact_id], now=now)
    audit.record(
        uow,
        principal,
        action="deal.stage_change",
        entity="deal",
        entity_id=deal.id,
        changed_fields=changed,
        details={"from": current.value, "to": target.value},
        at=now,
    )
    return deal


def _past_move_time(uow: UnitOfWork, deal: Deal, at: datetime) -> datetime:
    """A move brought in from the past, checked to keep the history in order (the opening is
    the deal's first move, so the last move is the floor)."""
    last = uow.session.scalar(select(func.max(DealStageChange.changed_at)).where(DealStageChange.deal_id == deal.id))
    floor = last if last is not None else deal.opened_at
    if at < floor:
        raise ValidationFailedError(
            "changed_at", f"is before the deal's last move or opening ({floor.isoformat(timespec='seconds')})"
        )
    return at


def stage_history(uow: UnitOfWork, principal: Principal, deal_id: int) -> list[DealStageChange]:
    get_record(uow, principal, DEALS, deal_id, Action.READ)
    return list(
        uow.session.scalars(
            select(DealStageChange).where(DealStageChange.deal_id == deal_id).order_by(DealStageChange.id)
        )
    )
