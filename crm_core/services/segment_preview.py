"""What a segment would hold before it is saved: its size, how many may be contacted, and the
precision to expect from its score conditions.

Scores are calibrated probabilities, so among the contacts a condition selects, the mean score
is the expected share for whom the predicted outcome happens: a marketer choosing "churn risk
at least 40%" sees the precision that threshold buys before spending a campaign on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import and_, case, func, select
from sqlalchemy.orm import aliased

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import Channel, Contact, CurrentScore
from crm_core.schemas.segments import SegmentRule
from crm_core.services.access import within_reach
from crm_core.services.consent import consented
from crm_core.services.segments import rule_members
from crm_core.unit_of_work import UnitOfWork


@dataclass(frozen=True)
class ExpectedPrecision:
    model: str
    precision: float | None  # None where no member has a score of the model

    def expected_hits(self, size: int) -> int | None:
        return None if self.precision is None else round(self.precision * size)


@dataclass(frozen=True)
class SegmentPreview:
    size: int
    contactable: int
    channel: Channel
    expected: list[ExpectedPrecision]


def preview_segment(
    uow: UnitOfWork, principal: Principal, rule: SegmentRule, channel: Channel, now: datetime
) -> SegmentPreview:
    """Counts within the viewer's reach; `contactable` is who opted in on `channel`.

    One pass over the members: their count, the consented among them and each score model's
    mean current score come from a single aggregate, so the members are found once.
    """
    scope = principal.require("contact", Action.READ)
    principal.require("segment", Action.READ)
    members = within_reach(rule_members(rule, now), Contact.owner_id, principal, scope).subquery("members")
    models = list(dict.fromkeys(condition.model for condition in rule.scores))
    currents = [aliased(CurrentScore, name=f"mean_{index}") for index in range(len(models))]
    query = select(
        func.count(),
        func.coalesce(func.sum(case((consented(members.c.id, [channel]), 1), else_=0)), 0),
        *(func.avg(current.score) for current in currents),
    ).select_from(members)
    for model, current in zip(models, currents, strict=True):
        query = query.outerjoin(current, and_(current.model_name == model, current.contact_id == members.c.id))
    size, contactable, *means = uow.session.execute(query).one()
    expected = [
        ExpectedPrecision(model, None if mean is None else float(mean))
        for model, mean in zip(models, means, strict=True)
    ]
    return SegmentPreview(size=int(size), contactable=int(contactable), channel=channel, expected=expected)
