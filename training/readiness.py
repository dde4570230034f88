"""Data readiness before a fit: are there enough outcomes, and how complete is each feature?

Run on the labelled training set the pipeline is about to use; a model below its minimums is
not fitted at all, and the report says what is short, so nobody sees a score made up from a
handful of labels.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import polars as pl

from crm_core.errors import CrmError
from features.schema import is_custom
from models.graduated import DataMinimums, LabelCounts
from training.leakage import LeakyField


@dataclass(frozen=True)
class ColumnHealth:
    column: str
    missing_share: float
    invalid: int  # infinite or negative where a count or amount cannot be negative


@dataclass(frozen=True)
class ReadinessReport:
    train: LabelCounts
    calibration: LabelCounts
    holdout: LabelCounts
    kinds_allowed: list[str]
    columns: list[ColumnHealth] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    # Custom fields refused as inputs because they leak the outcome (`training.leakage`).
    refused: list[LeakyField] = field(default_factory=list)

    @property
    def ready(self) -> bool:
        return not self.problems

    def params(self) -> dict[str, float | str]:
        """What MLflow records about the data a run was fitted on."""
        return {
            "readiness_train_positives": self.train.positives,
            "readiness_train_rows": self.train.rows,
            "readiness_holdout_positives": self.holdout.positives,
            "readiness_max_missing_share": max((c.missing_share for c in self.columns), default=0.0),
        } | ({"refused_as_leaky": ", ".join(leaky.field for leaky in self.refused)} if self.refused else {})


def _invalid(name: str) -> pl.Expr:
    """Infinite anywhere; negative where the product counts or sums (a company's own number,
    or days since a date still to come, may be negative)."""
    value = pl.col(name).cast(pl.Float64)
    return ~value.is_finite() if is_custom(name) else ~value.is_finite() | (value < 0)


class NotReadyError(CrmError, ValueError):
    """Insufficient or invalid data: no model is fitted; the message lists every problem."""

    def __init__(self, model_name: str, report: ReadinessReport) -> None:
        super().__init__(f"insufficient data to train '{model_name}': " + "; ".join(report.problems))
        self.report = report


def assess(
    train: pl.DataFrame,
    calibration: pl.DataFrame,
    holdout: pl.DataFrame,
    label: str,
    features: list[str],
    minimums: DataMinimums,
) -> ReadinessReport:
    """`train` is what the scorer is fitted on, `calibration` the later slice that maps its
    scores to probabilities, `holdout` the newest slice it is judged on."""
    train_counts = LabelCounts.of(train[label].to_numpy())
    calibration_counts = LabelCounts.of(calibration[label].to_numpy())
    holdout_counts = LabelCounts.of(holdout[label].to_numpy())
    problems = []
    if train_counts.rows < minimums.min_rows or train_counts.minority < minimums.min_minority:
        problems.append(
            f"training set has {train_counts.rows} rows and {train_counts.minority} of the rarer outcome; "
            f"needs {minimums.min_rows} rows and {minimums.min_minority} of each outcome"
        )
    for slice_name, counts, purpose in (
        ("calibration slice", calibration_counts, ""),
        ("holdout", holdout_counts, " to judge a model"),
    ):
        if counts.rows == 0:
            # Not "0 of the rarer outcome": nobody is there at all, which has another remedy.
            problems.append(
                f"{slice_name} holds nobody: no contact is in the model's population at its snapshot "
                "(its rule, or contacts no longer arriving); widen the population or bring newer history"
            )
        elif counts.minority < minimums.min_calibration_minority:
            problems.append(
                f"{slice_name} has {counts.minority} of the rarer outcome; "
                f"needs {minimums.min_calibration_minority}{purpose}"
            )
    both = pl.concat([part.select(features) for part in (train, calibration, holdout)])
    columns = [
        ColumnHealth(
            column=name,
            missing_share=float(both[name].null_count() / max(both.height, 1)),
            invalid=int(both.select(_invalid(name).sum()).item() or 0),
        )
        for name in features
    ]
    problems.extend(f"{health.column}: {health.invalid} invalid values" for health in columns if health.invalid)
    return ReadinessReport(
        train=train_counts,
        calibration=calibration_counts,
        holdout=holdout_counts,
        kinds_allowed=minimums.kinds_allowed(train_counts.minority),
        columns=columns,
        problems=problems,
    )


@dataclass(frozen=True)
class ReadinessCheck:
    """A model's data before it is trained, as `crm-intel models readiness` shows it: the
    report when the history covers a split, else only the shortfall."""

    model_name: str
    population: str  # who the rows are, in words
    split: str  # how they are divided, in words
    history_months: float | None  # from the oldest event to the newest snapshot (None: no dates)
    report: ReadinessReport | None
    columns_used: list[str] = field(default_factory=list)
    shortfall: str | None = None  # the history itself is too short to split

    @property
    def ready(self) -> bool:
        return self.shortfall is None and self.report is not None and self.report.ready

    @property
    def problems(self) -> list[str]:
        return [self.shortfall] if self.shortfall else list(self.report.problems if self.report else [])
