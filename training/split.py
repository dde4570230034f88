"""Time-based split: train on older snapshots, hold out the newest labelled one.

Labels look `horizon_days` ahead. A training row at t therefore "sees" outcomes up to
t + horizon; to keep every outcome used in training strictly before the holdout's `as_of`,
training dates stop one horizon before the holdout. Never a random split.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta


class NotEnoughHistoryError(ValueError):
    """Too few snapshots to train and hold out without overlapping label windows."""


@dataclass(frozen=True)
class SplitPlan:
    train_dates: list[datetime]
    holdout_date: datetime


@dataclass(frozen=True)
class TimeSplit:
    horizon_days: int

    def plan(self, snapshot_dates: list[datetime]) -> SplitPlan:
        if not snapshot_dates:
            raise NotEnoughHistoryError("no feature snapshots: build features first")
        horizon = timedelta(days=self.horizon_days)
        data_end = max(snapshot_dates)
        labelled = sorted(date for date in snapshot_dates if date + horizon <= data_end)
        if not labelled:
            raise NotEnoughHistoryError(
                f"no snapshot is {self.horizon_days} days older than the newest ({data_end:%Y-%m-%d})"
            )
        holdout = labelled[-1]
        train = [date for date in labelled if date + horizon <= holdout]
        if not train:
            raise NotEnoughHistoryError(
                f"need snapshots at least {2 * self.horizon_days} days before {data_end:%Y-%m-%d} to train"
            )
        return SplitPlan(train_dates=train, holdout_date=holdout)
