"""The registry's wrapper around a calibrated model: MLflow's pyfunc interface answers with the
calibrated probability (not a class label), and callers that need reasons unwrap the model."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel

from models.calibration import CalibratedModel
from models.recommenders import Recommender


class CalibratedPyfunc(PythonModel):
    def __init__(self, model: CalibratedModel) -> None:
        self.model = model

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        del context, params
        return np.asarray(self.model.predict_proba(model_input[self.model.feature_names])[:, 1])


def unwrap(loaded: Any) -> CalibratedModel:
    """The calibrated model inside a loaded pyfunc (`mlflow.pyfunc.load_model`)."""
    wrapper = loaded.unwrap_python_model()
    if not isinstance(wrapper, CalibratedPyfunc):
        raise TypeError(f"registered model is a {type(wrapper).__name__}, not a calibrated crm-intel model")
    return wrapper.model


class RecommenderPyfunc(PythonModel):
    """Registry wrapper for a fitted recommender: `predict` takes contact ids and answers
    (contact_id, product_id, rank, score, reason) rows."""

    def __init__(self, recommender: Recommender, k: int = 10) -> None:
        self.recommender = recommender
        self.k = k

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> pd.DataFrame:
        del context, params
        users = [int(user) for user in model_input["contact_id"]]
        lists = self.recommender.recommend(users, self.k)
        rows = [
            (user, rec.item_id, rank, rec.score, rec.reason)
            for user in users
            for rank, rec in enumerate(lists.get(user, []), start=1)
        ]
        return pd.DataFrame(rows, columns=["contact_id", "product_id", "rank", "score", "reason"])


def unwrap_recommender(loaded: Any) -> Recommender:
    wrapper = loaded.unwrap_python_model()
    if not isinstance(wrapper, RecommenderPyfunc):
        raise TypeError(f"registered model is a {type(wrapper).__name__}, not a crm-intel recommender")
    return wrapper.recommender
