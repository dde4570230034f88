"""What a rep sees under "offer next": product, rank, why, and which model said so."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from crm_core.schemas.common import UtcDateTime

REASON_WORDS = {
    "bought_before": "bought it before",
    "similar_customers": "customers like them bought it",
    "similar_products": "like what they buy most",
    "popular": "popular with everyone",
}


class RecommendationPublic(BaseModel):
    model_config = ConfigDict(extra="forbid")

    product_id: int
    product_name: str
    sku: str
    rank: int
    score: float
    reason: str
    reason_text: str
    model: str
    version: str
    written_at: UtcDateTime
