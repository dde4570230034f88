"""Batch scoring with reasons beside its floor: LightGBM's own `predict` and `pred_contrib`.

Synthetic contacts get their features from our transforms; a LightGBM champion is fitted and
calibrated on a sample of them (labels drawn from their recency, so the trees have something
to learn). Ours is the batch path's scoring (`serving.scoring.score_features`, in the chunks
`score_all` uses: model input, contributions, calibrated score, band, the three reasons, the
stamped rows to write back); the write-back itself is measured by the write-back benchmark.
The floor is LightGBM alone on the same rows: `predict` and `predict(pred_contrib=True)` on the
same matrix. Where the rest goes is timed step by step.
"""

from __future__ import annotations

import time
from datetime import datetime

import numpy as np
import polars as pl

from benchmarks.results import Figure
from benchmarks.synthetic import synthetic_export
from features.model_input import to_model_input
from features.snapshots import build_snapshots
from models.bands import Bands
from models.calibration import calibrate
from models.explain import top_factors
from models.scorers import LightGbmScorer
from serving.champion import Champion
from serving.scoring import score_features

AS_OF = datetime(2026, 11, 1)
FIT_ROWS = 50_000
CHUNK_ROWS = 20_000  # what `score_all` scores at a time (the serving settings' batch size)


def _champion(frame: pl.DataFrame, seed: int = 7) -> Champion:
    names = [name for name in frame.columns if name not in ("contact_id", "event_timestamp")]
    sample = frame.sample(min(FIT_ROWS, frame.height), seed=seed)
    x = to_model_input(sample, names)
    recency = x["days_since_last_activity"].fillna(400).to_numpy()
    rng = np.random.default_rng(seed)
    y = (rng.random(len(x)) < 1 / (1 + np.exp(-(recency - np.median(recency)) / 40))).astype(int)
    half = len(x) // 2
    scorer = LightGbmScorer(seed).fit(x.iloc[:half], y[:half])
    model = calibrate(scorer, x.iloc[half:], y[half:])
    return Champion("churn", "1", "benchmark", "churn_v1", names, Bands(), model)


def run(contacts: int, events: int) -> list[Figure]:
    frame = build_snapshots(synthetic_export(contacts, events), [AS_OF])
    champion = _champion(frame)
    booster = champion.model.scorer.model.booster_  # type: ignore[attr-defined]  # a LightGbmScorer's trees

    began = time.perf_counter()
    scored = 0
    for chunk in frame.iter_slices(CHUNK_ROWS):
        scored += len(score_features(champion, chunk))
    ours = time.perf_counter() - began
    assert scored == frame.height

    steps = {"model_input_s": 0.0, "contributions_and_score_s": 0.0, "reasons_s": 0.0, "floor_predict_s": 0.0}
    floor = 0.0
    for chunk in frame.iter_slices(CHUNK_ROWS):
        mark = time.perf_counter()
        x = to_model_input(chunk, champion.feature_names)
        steps["model_input_s"] += time.perf_counter() - mark
        mark = time.perf_counter()
        _, contributions = champion.model.explain(x)
        steps["contributions_and_score_s"] += time.perf_counter() - mark
        mark = time.perf_counter()
        top_factors(contributions, x)
        steps["reasons_s"] += time.perf_counter() - mark
        matrix = x.to_numpy()
        mark = time.perf_counter()
        booster.predict(matrix)
        booster.predict(matrix, pred_contrib=True)
        floor += time.perf_counter() - mark
    steps["floor_predict_s"] = floor
    steps["rows_and_rest_s"] = max(
        0.0, ours - steps["model_input_s"] - steps["contributions_and_score_s"] - steps["reasons_s"]
    )
    return [
        Figure(
            f"batch_scoring_with_reasons_{contacts // 1000}k",
            contacts / ours,
            contacts / floor,
            "rows/s",
            0.5,
            note=(
                f"{contacts:,} contacts x {len(champion.feature_names)} features, LightGBM champion; ours: model input,"
                " contributions, calibrated score, band, three reasons and the stamped rows (no write-back); floor: "
                "LightGBM's predict + pred_contrib on the same matrix"
            ),
            extra={"ours_s": ours, **steps},
        )
    ]
