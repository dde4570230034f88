"""The registry's wrappers around our fitted models: MLflow's pyfunc interface answers a scorer
with calibrated probabilities (not class labels) and a recommender with ranked products, and
callers that need more (reasons, forgetting people) unwrap the model inside.

The wrapped objects are typed by what the wrappers call on them, so this package never imports
`models`; whoever unwraps names the class it expects.
"""

from __future__ import annotations

import sys
from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from typing import Any, Protocol, TypeVar

import numpy as np
import pandas as pd
from mlflow.pyfunc.model import PythonModel

Expected = TypeVar("Expected")
# Versions registered before the wrappers moved here were pickled naming this module.
_LEGACY_MODULE = "models.pyfunc"


class ProbabilityModel(Protocol):
    @property
    def feature_names(self) -> list[str]: ...

    def predict_proba(self, model_input: pd.DataFrame) -> np.ndarray: ...


class Recommendation(Protocol):
    @property
    def item_id(self) -> int: ...

    @property
    def score(self) -> float: ...

    @property
    def reason(self) -> str: ...


class RankingModel(Protocol):
    def recommend(self, user_ids: Sequence[int], k: int) -> Mapping[int, Sequence[Recommendation]]: ...

    def forget(self, user_ids: Collection[int]) -> int: ...


class CalibratedPyfunc(PythonModel):
    def __init__(self, model: ProbabilityModel) -> None:
        self.model = model

    def predict(self, context: Any, model_input: pd.DataFrame, params: dict[str, Any] | None = None) -> np.ndarray:
        del context, params
        return np.asarray(self.model.predict_proba(model_input[self.model.feature_names])[:, 1])


class RecommenderPyfunc(PythonModel):
    """`predict` takes contact ids and answers (contact_id, product_id, rank, score, reason) rows."""

    def __init__(self, recommender: RankingModel, k: int = 10) -> None:
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


def unwrap(loaded: Any, expected: type[Expected], model_name: str) -> Expected:
    """The fitted model inside a loaded pyfunc, refused unless it is an `expected`."""
    wrapper = loaded.unwrap_python_model()
    inner = getattr(wrapper, "model", None) if isinstance(wrapper, CalibratedPyfunc) else None
    if isinstance(wrapper, RecommenderPyfunc):
        inner = wrapper.recommender
    if not isinstance(inner, expected):
        found = type(inner).__name__ if inner is not None else type(wrapper).__name__
        raise TypeError(f"registered model '{model_name}' holds a {found}, not a {expected.__name__}")
    return inner


@contextmanager
def legacy_class_paths() -> Iterator[None]:
    """While loading, let pickles that name `models.pyfunc` find these wrappers.

    Registered versions are pickles that name their wrapper's module; versions registered
    before the wrappers left the pure `models` package name the old one. The alias exists only
    for the duration of a load, so nothing else can import MLflow through `models`.
    """
    added = _LEGACY_MODULE not in sys.modules
    if added:
        sys.modules[_LEGACY_MODULE] = sys.modules[__name__]
    try:
        yield
    finally:
        if added:
            sys.modules.pop(_LEGACY_MODULE, None)
