"""Time-based split: fit on older snapshots, calibrate on a later one, hold out the newest.

Labels look `horizon_days` ahead. A row at t therefore "sees" outcomes up to t + horizon; to
keep every outcome a stage learns from strictly before the `as_of` of the next stage, fit dates
stop one horizon before the calibration date, which stops one horizon before the holdout.
Never a random split.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from crm_core.errors import CrmError


class NotEnoughHistoryError(CrmError, ValueError):
    """Too few snapshots to train and hold out without overlapping label windows."""


@dataclass(frozen=True)
class SplitPlan:
    fit_dates: list[datetime]
    calibration_date: datetime
    holdout_date: datetime

    @property
    def train_dates(self) -> list[datetime]:
        """Every date a model learns from (fit and calibration), oldest first."""
        return [*self.fit_dates, self.calibration_date]


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
        before_holdout = [date for date in labelled if date + horizon <= holdout]
        fit = [date for date in before_holdout if before_holdout and date + horizon <= before_holdout[-1]]
        if not fit:
            raise NotEnoughHistoryError(
                f"need snapshots at least {3 * self.horizon_days} days before {data_end:%Y-%m-%d} "
                "to fit, calibrate and hold out"
            )
        return SplitPlan(fit_dates=fit, calibration_date=before_holdout[-1], holdout_date=holdout)
