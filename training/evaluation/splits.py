"""Splits for evaluation: train, a calibration slice, and a holdout.

Where the data has time, the split is by time, never random: the newest 20% of rows are held
out and scored month by month, each month by a model fitted only on what came before it and
calibrated on the most recent of that (walk-forward, as the product retrains on a schedule).
Telco is one snapshot with no time at all; there seeded stratified 5-fold rotations (train on
3 parts, calibrate on 1, score 1) are the only honest option, and the report says which split each figure used.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

import numpy as np
import polars as pl
from sklearn.model_selection import StratifiedKFold

SplitKind = Literal["time", "stratified"]
STRATIFIED_FOLDS = 5
AT, LABEL = "at", "label"


@dataclass(frozen=True)
class Slices:
    train: pl.DataFrame
    calibration: pl.DataFrame
    holdout: pl.DataFrame
    kind: SplitKind


HOLDOUT_FRACTION = 0.2
MIN_CALIBRATION_MINORITY = 50


def holdout_start(frame: pl.DataFrame) -> datetime:
    times = frame[AT].sort()
    start = times[int(len(times) * (1 - HOLDOUT_FRACTION))]
    assert isinstance(start, datetime)
    return start


def walk_forward(frame: pl.DataFrame) -> Iterator[Slices]:
    """One Slices per month of the holdout: train and calibration strictly before that month.

    The calibration slice is the month just before, widened a month at a time until it holds
    enough of the rarer outcome to calibrate on.
    """
    with_month = frame.with_columns(pl.col(AT).dt.truncate("1mo").alias("_month"))
    start = holdout_start(frame)
    held = with_month.filter(pl.col(AT) >= start)
    for month in held["_month"].unique().sort():
        past = with_month.filter(pl.col("_month") < month)
        past_months = past["_month"].unique().sort(descending=True)
        calibration_from = past_months[0]
        for candidate in past_months:
            calibration_from = candidate
            labels = past.filter(pl.col("_month") >= candidate)[LABEL]
            if min(int(labels.sum()), labels.len() - int(labels.sum())) >= MIN_CALIBRATION_MINORITY:
                break
        yield Slices(
            train=past.filter(pl.col("_month") < calibration_from).drop("_month"),
            calibration=past.filter(pl.col("_month") >= calibration_from).drop("_month"),
            holdout=held.filter(pl.col("_month") == month).drop("_month"),
            kind="time",
        )


def stratified_folds(frame: pl.DataFrame, seed: int, k: int = STRATIFIED_FOLDS) -> list[Slices]:
    """k rotations of k stratified parts: each part is held out once, the next part calibrates
    and the rest train, so every row is scored exactly once by a model that never saw it."""
    parts = StratifiedKFold(n_splits=k, shuffle=True, random_state=seed)
    chunks = [np.sort(rows) for _, rows in parts.split(np.zeros(frame.height), frame[LABEL].to_numpy())]
    out = []
    for index, held in enumerate(chunks):
        calibration = chunks[(index + 1) % k]
        train = np.sort(
            np.concatenate([chunk for other, chunk in enumerate(chunks) if other not in (index, (index + 1) % k)])
        )
        out.append(Slices(train=frame[train], calibration=frame[calibration], holdout=frame[held], kind="stratified"))
    return out
