"""How a model's labelled rows are divided into fit, calibration and holdout.

By time, when the history has dates: labels look `horizon_days` ahead, so a row at t "sees"
outcomes up to t + horizon; to keep every outcome a stage learns from strictly before the
`as_of` of the next stage, fit dates stop one horizon before the calibration date, which stops
one horizon before the holdout. A random split would let the model learn from the future.

When the history has no dates (a labelled export, such as a lead list with a converted flag)
every row is the value held now, and the entry says how to divide them: at random, stratified
by the outcome, when the list has no order; or in record order, when the list was written in
the order things happened (a campaign's calls, one per row): the oldest records fit, the
newest are judged, as a time split would. The run and the model page say which split was used.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Protocol

import polars as pl
from sklearn.model_selection import train_test_split

from crm_core.errors import CrmError
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP

BY_TIME = "by time"
AT_RANDOM = "random, stratified by the outcome (the history has no dates)"
IN_RECORD_ORDER = "in record order: oldest records fit, newest judged (the history has no dates)"


class NotEnoughHistoryError(CrmError, ValueError):
    """Too few snapshots to train and hold out without overlapping label windows."""


@dataclass(frozen=True)
class SplitParts:
    fit: pl.DataFrame
    calibration: pl.DataFrame
    holdout: pl.DataFrame


class SplitPlan(Protocol):
    @property
    def label_dates(self) -> list[datetime]:
        """The dates labels are built at."""
        ...

    def parts(self, rows: pl.DataFrame, label: str) -> SplitParts: ...

    def params(self) -> dict[str, str]:
        """What the run records about the split, in words and dates."""
        ...


@dataclass(frozen=True)
class TimePlan:
    fit_dates: list[datetime]
    calibration_date: datetime
    holdout_date: datetime

    @property
    def train_dates(self) -> list[datetime]:
        """Every date a model learns from (fit and calibration), oldest first."""
        return [*self.fit_dates, self.calibration_date]

    @property
    def label_dates(self) -> list[datetime]:
        return [*self.train_dates, self.holdout_date]

    def parts(self, rows: pl.DataFrame, label: str) -> SplitParts:
        def on(dates: list[datetime]) -> pl.DataFrame:
            return rows.filter(pl.col(EVENT_TIMESTAMP).is_in(dates))

        return SplitParts(on(self.fit_dates), on([self.calibration_date]), on([self.holdout_date]))

    def params(self) -> dict[str, str]:
        return {
            "split": BY_TIME,
            "fit_dates": ",".join(f"{d:%Y-%m-%d}" for d in self.fit_dates),
            "calibration_date": f"{self.calibration_date:%Y-%m-%d}",
            "holdout_date": f"{self.holdout_date:%Y-%m-%d}",
        }


@dataclass(frozen=True)
class TimeSplit:
    horizon_days: int
    words: ClassVar[str] = BY_TIME  # how the run names this split

    def plan(self, snapshot_dates: list[datetime]) -> TimePlan:
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
        return TimePlan(fit_dates=fit, calibration_date=before_holdout[-1], holdout_date=holdout)


# Below this many of either outcome a stratified split cannot put some in every part; the rows
# then all go to fitting, and readiness names the shortfall.
MIN_TO_STRATIFY = 5


@dataclass(frozen=True)
class HeldNowPlan:
    """A snapshot history's plan: every row labelled at the newest snapshot, then cut at fixed
    shares into fit, calibration and holdout."""

    as_of: datetime
    calibration_share: float
    holdout_share: float

    @property
    def label_dates(self) -> list[datetime]:
        return [self.as_of]

    @property
    def fit_share(self) -> float:
        return 1.0 - self.calibration_share - self.holdout_share

    def recorded(self, split: str) -> dict[str, str]:
        return {"split": split, "snapshot_date": f"{self.as_of:%Y-%m-%d}"}


@dataclass(frozen=True)
class RandomPlan(HeldNowPlan):
    seed: int

    def parts(self, rows: pl.DataFrame, label: str) -> SplitParts:
        """Stratified by `label`, reproducible: rows in contact order, then sklearn's seeded split."""
        ordered = rows.sort(ENTITY_KEY)
        counts = ordered[label].value_counts()["count"].to_list()
        if len(counts) < 2 or min(counts) < MIN_TO_STRATIFY:
            return SplitParts(ordered, ordered.clear(), ordered.clear())
        positions = list(range(ordered.height))
        labels = ordered[label].to_list()
        rest, holdout = train_test_split(
            positions, test_size=self.holdout_share, stratify=labels, random_state=self.seed
        )
        rest_labels = [labels[i] for i in rest]
        share = self.calibration_share / (1.0 - self.holdout_share)
        fit, calibration = train_test_split(rest, test_size=share, stratify=rest_labels, random_state=self.seed)
        return SplitParts(*(ordered[sorted(part)] for part in (fit, calibration, holdout)))

    def params(self) -> dict[str, str]:
        return self.recorded(
            f"{AT_RANDOM}: {self.fit_share:.0%} fit, "
            f"{self.calibration_share:.0%} calibration, {self.holdout_share:.0%} holdout, seed {self.seed}"
        )


@dataclass(frozen=True)
class RandomSplit:
    words: ClassVar[str] = AT_RANDOM
    seed: int = 42
    calibration_share: float = 0.2
    holdout_share: float = 0.2

    def plan(self, snapshot_dates: list[datetime]) -> RandomPlan:
        return RandomPlan(_newest(snapshot_dates), self.calibration_share, self.holdout_share, self.seed)


def _newest(snapshot_dates: list[datetime]) -> datetime:
    if not snapshot_dates:
        raise NotEnoughHistoryError("no feature snapshots: build features first")
    return max(snapshot_dates)


@dataclass(frozen=True)
class RecordOrderPlan(HeldNowPlan):
    """The rows in the order their contacts came into the CRM (ids rise with creation and with a
    file's rows on import)."""

    def parts(self, rows: pl.DataFrame, label: str) -> SplitParts:
        ordered = rows.sort(ENTITY_KEY)
        holdout_from = ordered.height - round(ordered.height * self.holdout_share)
        calibration_from = holdout_from - round(ordered.height * self.calibration_share)
        return SplitParts(ordered[:calibration_from], ordered[calibration_from:holdout_from], ordered[holdout_from:])

    def params(self) -> dict[str, str]:
        return self.recorded(
            f"{IN_RECORD_ORDER}: first {self.fit_share:.0%} fit, "
            f"next {self.calibration_share:.0%} calibration, last {self.holdout_share:.0%} holdout"
        )


@dataclass(frozen=True)
class RecordOrderSplit:
    words: ClassVar[str] = IN_RECORD_ORDER
    calibration_share: float = 0.2
    holdout_share: float = 0.2

    def plan(self, snapshot_dates: list[datetime]) -> RecordOrderPlan:
        return RecordOrderPlan(_newest(snapshot_dates), self.calibration_share, self.holdout_share)


# How a model's rows may be divided: by time when its history has dates, else as its entry says.
Split = TimeSplit | RandomSplit | RecordOrderSplit
