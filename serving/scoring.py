"""Turning feature rows into stamped prediction rows: the one scoring path for online and batch."""

from __future__ import annotations

import polars as pl

from crm_core.services.predictions import NewPrediction
from features.model_input import to_model_input
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP, describe, source_of
from models.explain import top_factors
from serving.champion import Champion


def score_features(champion: Champion, frame: pl.DataFrame) -> list[NewPrediction]:
    """Score every row of `frame` (contact_id, event_timestamp, features...) with the champion."""
    if frame.is_empty():
        return []
    model_input = to_model_input(frame, champion.feature_names)
    scores, contributions = champion.model.explain(model_input)
    reasons = top_factors(contributions, model_input)
    return [
        NewPrediction(
            contact_id=int(contact_id),
            model_name=champion.model_name,
            model_version=champion.version,
            mlflow_run_id=champion.run_id,
            score=float(score),
            band=champion.bands.band(float(score)),
            top_factors=[
                factor | {"description": describe(str(factor["feature"])), "source": source_of(str(factor["feature"]))}
                for factor in factors
            ],
            feature_timestamp=feature_timestamp,
        )
        for contact_id, feature_timestamp, score, factors in zip(
            frame[ENTITY_KEY], frame[EVENT_TIMESTAMP], scores, reasons, strict=True
        )
    ]
