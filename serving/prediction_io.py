"""What the prediction endpoints take and answer: BentoML builds their OpenAPI from these.

The input is a BentoML IO descriptor of its own, not one inferred from the method's signature,
so that unknown fields are refused (an inferred one ignores them).
"""

from __future__ import annotations

from typing import Any

import bentoml
from pydantic import BaseModel, ConfigDict, Field

from crm_core.schemas.common import RecordId, UtcDateTime

MAX_CONTACTS_PER_REQUEST = 1_000


class ContactsInput(bentoml.IODescriptor):  # type: ignore[misc]  # bentoml exports it untyped
    """The contacts to score or recommend for, each at most once in the answer."""

    model_config = ConfigDict(extra="forbid")

    contact_ids: list[RecordId] = Field(min_length=1, max_length=MAX_CONTACTS_PER_REQUEST)


class PredictionOut(BaseModel):
    contact_id: int
    score: float
    percent: int
    band: str
    top_factors: list[dict[str, Any]]
    feature_timestamp: UtcDateTime


class UnscoredOut(BaseModel):
    """A contact outside the model's population at the online features' snapshot, and why."""

    contact_id: int
    state: str
    feature_timestamp: UtcDateTime


class PredictResponse(BaseModel):
    model: str
    version: str
    run_id: str
    written: int
    predictions: list[PredictionOut]
    unscored: list[UnscoredOut] = []


class RecommendationOut(BaseModel):
    product_id: int
    rank: int
    score: float
    reason: str


class ContactRecommendations(BaseModel):
    contact_id: int
    items: list[RecommendationOut]


class RecommendResponse(BaseModel):
    model: str
    version: str
    run_id: str
    written: int
    recommendations: list[ContactRecommendations]
