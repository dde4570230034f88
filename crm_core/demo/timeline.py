"""The demo's clock and its event draws: every table's times come from here, in days since the
history starts, so tables drawn separately still line up on one calendar."""

from __future__ import annotations

import calendar
from datetime import datetime

import numpy as np
import polars as pl

HISTORY_END = datetime(2026, 11, 1)
HISTORY_DAYS = 730
# Over the last FADE_DAYS before a contact churns, their events thin out towards a floor.
FADE_DAYS = 120


def sigmoid(x: np.ndarray) -> np.ndarray:
    return np.asarray(1.0 / (1.0 + np.exp(-x)))


def timestamps(start: datetime, offsets_days: np.ndarray) -> pl.Series:
    """Naive-UTC timestamps `offsets_days` after `start`, at microsecond precision."""
    start_micros = calendar.timegm(start.timetuple()) * 1_000_000
    micros = start_micros + np.round(np.asarray(offsets_days, dtype=np.float64) * 86_400_000_000).astype(np.int64)
    return pl.Series(micros, dtype=pl.Int64).cast(pl.Datetime("us"))


class EventDraw:
    """Events for many contacts at once: a Poisson count each, times uniform in their window,
    thinned near churn so activity fades before a customer leaves."""

    def __init__(self, rng: np.random.Generator, start: np.ndarray, end: np.ndarray, churn: np.ndarray) -> None:
        self.rng, self.start, self.end, self.churn = rng, start, end, churn

    def events(self, rate_per_day: np.ndarray, fade_floor: float) -> tuple[np.ndarray, np.ndarray]:
        span = np.maximum(self.end - self.start, 0.0)
        counts = self.rng.poisson(rate_per_day * span)
        owner = np.repeat(np.arange(len(counts)), counts)
        when = self.start[owner] + self.rng.random(len(owner)) * span[owner]
        days_to_churn = self.churn[owner] - when
        keep_probability = fade_floor + (1 - fade_floor) * np.clip(days_to_churn / FADE_DAYS, 0.0, 1.0)
        keep = self.rng.random(len(owner)) < keep_probability
        return owner[keep], when[keep]
