"""What a segment would hold before it is saved: its size, how many may be contacted, and the
precision to expect from its score conditions.

Scores are calibrated probabilities, so among the contacts a condition selects, the mean score
is the expected share for whom the predicted outcome happens: a marketer choosing "churn risk
at least 40%" sees the precision that threshold buys before spending a campaign on it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, select

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import Channel, Contact
from crm_core.schemas.segments import SegmentRule
from crm_core.services.access import within_reach
from crm_core.services.consent import consented
from crm_core.services.score_ranking import ranked_scores
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
    """Counts within the viewer's reach; `contactable` is who opted in on `channel`."""
    scope = principal.require("contact", Action.READ)
    principal.require("segment", Action.READ)
    members = within_reach(rule_members(rule, now), Contact.owner_id, principal, scope).subquery("members")
    size = int(uow.session.scalar(select(func.count()).select_from(members)) or 0)
    contactable = int(
        uow.session.scalar(select(func.count()).select_from(members).where(consented(members.c.id, [channel]))) or 0
    )
    expected = []
    for model in dict.fromkeys(condition.model for condition in rule.scores):
        ranked = ranked_scores(model)
        mean = uow.session.scalar(
            select(func.avg(ranked.c.score))
            .join(members, members.c.id == ranked.c.contact_id)
            .where(ranked.c.rank == 1)
        )
        expected.append(ExpectedPrecision(model, None if mean is None else float(mean)))
    return SegmentPreview(size=size, contactable=contactable, channel=channel, expected=expected)
