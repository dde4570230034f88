"""Deal pipeline rules: which stage moves are allowed, and a history row for every move.

Open deals may move to any other open stage (forward or back, as real pipelines do) or close
as won or lost; a closed deal never changes stage again. Every move, including the first
stage, is written to the stage history in the same transaction.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import select

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import Deal, DealStage, DealStageChange
from crm_core.errors import ValidationFailedError
from crm_core.services import audit
from crm_core.services.kinds import DEALS
from crm_core.services.owned_records import create_record, get_record
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
    deal = create_record(uow, principal, DEALS, values | {"stage": stage.value, "status": "open"}, now=now)
    uow.session.add(DealStageChange(deal_id=deal.id, from_stage=None, to_stage=stage.value, changed_at=now))
    return deal


def move_stage(uow: UnitOfWork, principal: Principal, deal_id: int, target: DealStage, *, now: datetime) -> Deal:
    deal: Deal = get_record(uow, principal, DEALS, deal_id, Action.UPDATE)
    current = DealStage(deal.stage)
    check_transition(current, target)
    uow.session.add(DealStageChange(deal_id=deal.id, from_stage=current.value, to_stage=target.value, changed_at=now))
    deal.stage = target.value
    changed = ["stage"]
    if target in CLOSING:
        deal.status, deal.closed_at = CLOSING[target], now
        changed += ["status", "closed_at"]
    uow.session.flush()
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


def stage_history(uow: UnitOfWork, principal: Principal, deal_id: int) -> list[DealStageChange]:
    get_record(uow, principal, DEALS, deal_id, Action.READ)
    return list(
        uow.session.scalars(
            select(DealStageChange).where(DealStageChange.deal_id == deal_id).order_by(DealStageChange.id)
        )
    )
