"""The registry's pyfunc wrappers left the pure `models` package; versions registered before
that are pickles naming `models.pyfunc`, and must still load (and only while loading)."""

from __future__ import annotations

import pickle
import sys
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

from features.model_registry.wrappers import CalibratedPyfunc, legacy_class_paths


@dataclass
class ConstantModel:
    """Stands in for a calibrated model: what the wrapper calls, nothing more."""

    feature_names: list[str]
    rate: float

    def predict_proba(self, frame: pd.DataFrame) -> np.ndarray:
        return np.column_stack([np.full(len(frame), 1 - self.rate), np.full(len(frame), self.rate)])


def _pickled_before_the_move() -> bytes:
    """A wrapper pickled as a version registered before the move names its class."""
    current = pickle.dumps(CalibratedPyfunc(ConstantModel(["tenure_days"], 0.25)), protocol=0)
    assert b"cfeatures.model_registry.wrappers\nCalibratedPyfunc\n" in current
    return current.replace(b"cfeatures.model_registry.wrappers\n", b"cmodels.pyfunc\n")


def test_a_wrapper_pickled_under_its_old_module_loads_while_loading_and_only_then() -> None:
    old = _pickled_before_the_move()
    with pytest.raises(ModuleNotFoundError, match=r"models\.pyfunc"):
        pickle.loads(old)
    with legacy_class_paths():
        loaded = pickle.loads(old)
    assert isinstance(loaded, CalibratedPyfunc)
    scores = loaded.predict(None, pd.DataFrame({"tenure_days": [1.0, 2.0]}))
    assert scores.tolist() == [0.25, 0.25]
    assert "models.pyfunc" not in sys.modules, "the alias is gone after the load"
