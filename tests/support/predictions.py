"""Scores written the way the model service writes them, for the tests of the write path."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.db import make_session_factory
from crm_core.services.predictions import NewPrediction, record_predictions
from crm_core.unit_of_work import UnitOfWork

T0 = datetime(2026, 10, 1)
MODEL_SERVICE = Principal.system(Role.MODEL_SERVICE, "tests")


def prediction(contact_id: int, *, version: str = "1", score: float = 0.7, at: datetime = T0) -> NewPrediction:
    return NewPrediction(
        contact_id=contact_id,
        model_name="churn",
        model_version=version,
        mlflow_run_id="run-1",
        score=score,
        band="high",
        top_factors=[{"feature": "tenure_days", "contribution": 0.3}],
        feature_timestamp=at,
    )


def write(engine: Engine, rows: list[NewPrediction], scored_at: datetime = T0) -> tuple[int, int, list[str]]:
    with UnitOfWork(make_session_factory(engine)) as uow:
        result = record_predictions(uow, MODEL_SERVICE, rows, scored_at=scored_at)
        uow.commit()
    return result.inserted, result.already_present, [str(problem) for problem in result.rejected]
