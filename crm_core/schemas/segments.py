"""Segment shapes: a rule over scores and attributes, and what a marketer sees of a segment."""

from __future__ import annotations

from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from crm_core.schemas.common import NoNulInput, UtcDateTime
from crm_core.schemas.records import LifecycleStage

Band = Literal["low", "medium", "high"]


class ScoreCondition(NoNulInput):
    """The contact's newest score of `model` is in one of `bands` and/or within the bounds."""

    model_config = ConfigDict(extra="forbid")

    model: str = Field(pattern=r"^[a-z][a-z0-9_]{0,39}$", description="e.g. churn, lead")
    bands: list[Band] | None = Field(default=None, min_length=1, max_length=3)
    min_score: float | None = Field(default=None, ge=0.0, le=1.0)
    max_score: float | None = Field(default=None, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _says_something(self) -> ScoreCondition:
        if self.bands is None and self.min_score is None and self.max_score is None:
            raise ValueError("give bands, min_score or max_score")
        if self.min_score is not None and self.max_score is not None and self.min_score > self.max_score:
            raise ValueError("min_score is above max_score")
        return self


class SegmentRule(NoNulInput):
    """Every condition given must hold (AND)."""

    model_config = ConfigDict(extra="forbid")

    scores: list[ScoreCondition] = Field(default_factory=list, max_length=5)
    min_order_value_365d: Decimal | None = Field(
        default=None, ge=0, le=Decimal("1e12"), description="spend in the last year"
    )
    lifecycle_stages: list[LifecycleStage] | None = Field(default=None, min_length=1, max_length=4)
    clusters: list[Annotated[str, Field(min_length=1, max_length=80)]] | None = Field(
        default=None,
        min_length=1,
        max_length=20,
        description="keys of behaviour-cluster segments; a member of any of them qualifies",
    )

    @model_validator(mode="after")
    def _has_a_condition(self) -> SegmentRule:
        conditions = (self.min_order_value_365d, self.lifecycle_stages, self.clusters)
        if not self.scores and all(condition is None for condition in conditions):
            raise ValueError("a segment needs at least one condition")
        return self


class SegmentCreate(SegmentRule):
    name: str = Field(min_length=1, max_length=120)
    description: str = Field(default="", max_length=400)


class SegmentPublic(BaseModel):
    model_config = ConfigDict(extra="forbid", from_attributes=True)

    id: int
    key: str
    name: str
    kind: str
    description: str
    definition: dict[str, Any]
    member_count: int
    created_at: UtcDateTime
    refreshed_at: UtcDateTime | None
