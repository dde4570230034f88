"""Segments: rule audiences evaluated in SQL over the newest scores, spend and stage, and the
materialised membership every segment (rule or cluster) is read from.

Members are replaced whole in the caller's transaction, so a reader sees the old list or the
new one, never half of each.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Select, and_, delete, func, insert, literal, select
from sqlalchemy.orm import aliased

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import Contact, CurrentScore, Order, Segment, SegmentMember
from crm_core.errors import ConflictError, NotFoundError
from crm_core.schemas.segments import SegmentCreate, SegmentRule
from crm_core.services import audit
from crm_core.unit_of_work import UnitOfWork

RULE, CLUSTER = "rule", "cluster"


def rule_members(rule: SegmentRule, now: datetime) -> Select[tuple[int]]:
    """Contact ids that meet every condition of `rule`, as one SQL query.

    Score conditions read each contact's current score (one indexed row per contact and model,
    see `current_scores`), and spend is summed per candidate over the orders index, so the
    query narrows by its most selective condition instead of ranking every score ever written.
    """
    query = select(Contact.id)
    for index, condition in enumerate(rule.scores):
        current = aliased(CurrentScore, name=f"current_{index}")
        tests = [current.model_name == condition.model, current.contact_id == Contact.id]
        if condition.bands is not None:
            tests.append(current.band.in_(condition.bands))
        if condition.min_score is not None:
            tests.append(current.score >= condition.min_score)
        if condition.max_score is not None:
            tests.append(current.score <= condition.max_score)
        query = query.join(current, and_(*tests))
    if rule.min_order_value_365d is not None:
        spend = (
            select(func.coalesce(func.sum(Order.total), 0))
            .where(
                Order.contact_id == Contact.id,
                Order.ordered_at > now - timedelta(days=365),
                Order.status != "cancelled",
            )
            .scalar_subquery()
        )
        query = query.where(spend >= rule.min_order_value_365d)
    if rule.lifecycle_stages is not None:
        query = query.where(Contact.lifecycle_stage.in_([stage.value for stage in rule.lifecycle_stages]))
    if rule.clusters is not None:
        in_cluster = (
            select(SegmentMember.contact_id)
            .join(Segment, Segment.id == SegmentMember.segment_id)
            .where(Segment.kind == CLUSTER, Segment.key.in_(rule.clusters))
        )
        query = query.where(Contact.id.in_(in_cluster))
    return query


def replace_members(
    uow: UnitOfWork, segment: Segment, members: Select[tuple[int]] | Iterable[int], now: datetime
) -> None:
    session = uow.session
    session.execute(delete(SegmentMember).where(SegmentMember.segment_id == segment.id))
    if isinstance(members, Select):
        chosen = members.with_only_columns(literal(segment.id), Contact.id)
        session.execute(insert(SegmentMember).from_select(["segment_id", "contact_id"], chosen))
    else:
        rows = [{"segment_id": segment.id, "contact_id": contact_id} for contact_id in sorted(set(members))]
        if rows:
            session.execute(insert(SegmentMember), rows)
    segment.member_count = int(
        session.scalar(select(func.count()).select_from(SegmentMember).where(SegmentMember.segment_id == segment.id))
        or 0
    )
    segment.refreshed_at = now


def _key(name: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")[:60] or "segment"


def create_rule_segment(uow: UnitOfWork, principal: Principal, body: SegmentCreate, now: datetime) -> Segment:
    principal.require("segment", Action.CREATE)
    key = f"rule-{_key(body.name)}"
    if uow.session.scalar(select(Segment.id).where(Segment.key == key)) is not None:
        raise ConflictError("name", f"is taken: a segment named like '{body.name}' exists ({key})")
    definition = SegmentRule.model_validate(body.model_dump(include=set(SegmentRule.model_fields))).model_dump(
        mode="json"
    )
    segment = Segment(
        key=key, name=body.name, kind=RULE, description=body.description, definition=definition, created_at=now
    )
    uow.session.add(segment)
    uow.session.flush()
    replace_members(uow, segment, rule_members(SegmentRule.model_validate(definition), now), now)
    audit.record(
        uow,
        principal,
        action="segment.create",
        entity="segment",
        entity_id=segment.id,
        at=now,
        details={"key": key, "members": segment.member_count},
    )
    return segment


def refresh_rule_segments(uow: UnitOfWork, now: datetime) -> dict[str, int]:
    """Re-evaluate every rule segment: after scoring, bands and scores have moved."""
    sizes = {}
    for segment in uow.session.scalars(select(Segment).where(Segment.kind == RULE).order_by(Segment.id)):
        replace_members(uow, segment, rule_members(SegmentRule.model_validate(segment.definition), now), now)
        sizes[segment.key] = segment.member_count
    return sizes


def put_cluster_segments(
    uow: UnitOfWork, clusters: Sequence[tuple[str, str, str, dict[str, Any], list[int]]], now: datetime
) -> dict[str, int]:
    """(key, name, description, definition, members) per cluster; clusters no longer found are
    emptied, not deleted, so a marketer's saved reference still resolves."""
    existing = {s.key: s for s in uow.session.scalars(select(Segment).where(Segment.kind == CLUSTER))}
    sizes = {}
    for key, name, description, definition, members in clusters:
        segment = existing.pop(key, None)
        if segment is None:
            segment = Segment(
                key=key, kind=CLUSTER, created_at=now, name=name, description=description, definition=definition
            )
            uow.session.add(segment)
            uow.session.flush()
        segment.name, segment.description, segment.definition = name, description, definition
        replace_members(uow, segment, members, now)
        sizes[key] = segment.member_count
    for stale in existing.values():
        replace_members(uow, stale, [], now)
    return sizes


def list_segments(uow: UnitOfWork, principal: Principal) -> list[Segment]:
    principal.require("segment", Action.READ)
    return list(uow.session.scalars(select(Segment).order_by(Segment.kind, Segment.name)))


def get_segment(uow: UnitOfWork, principal: Principal, segment_id: int) -> Segment:
    principal.require("segment", Action.READ)
    segment = uow.session.get(Segment, segment_id)
    if segment is None:
        raise NotFoundError("segment", segment_id)
    return segment


def member_filter(segment_id: int) -> Any:
    """A filter on contacts: members of the segment (reach is applied by the contact listing)."""
    return Contact.id.in_(select(SegmentMember.contact_id).where(SegmentMember.segment_id == segment_id))
