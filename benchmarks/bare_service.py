"""The peer of our online scoring: a bare BentoML endpoint serving the same champion, with no
sign-in, no online-store read, no reasons and no write-back. The request carries the feature
values; the answer is the calibrated score. Served with as many workers as `crm-intel serve`.

    CRM_HOME=... python -m bentoml serve benchmarks.bare_service:BareScorer --port P
"""

from __future__ import annotations

import os
from pathlib import Path

import bentoml
import pandas as pd

from serving.settings import serve_workers


@bentoml.service(workers=serve_workers(), traffic={"timeout": 30})
class BareScorer:
    def __init__(self) -> None:
        from benchmarks.server import served_champion

        champion = served_champion(Path(os.environ["CRM_HOME"]))
        self.names = champion.feature_names
        self.model = champion.model

    @bentoml.api  # type: ignore[untyped-decorator]  # bentoml ships no types for it
    def predict(self, features: list[float | None]) -> dict[str, float]:
        row = pd.DataFrame([features], columns=self.names, dtype="float64")
        return {"score": float(self.model.predict_proba(row)[0, 1])}
