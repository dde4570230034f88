"""Scores checked against what happened: were the scores a model's reps saw right?

At the start of each month whose horizon has since passed, take every contact's score as it
stood then (its newest stored score by that moment), label the contact with the model's own
outcome definition at that moment (`training.labels.outcome_labels`: the population then, and
whether the outcome happened within the horizon after), and measure: ROC-AUC, and per band the
contacts, the mean score and the share it happened to. Beside the holdout's ROC-AUC, a month
that fell below it by more than the margin raises a warning with what to do.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import polars as pl
from sklearn.metrics import roc_auc_score

from crm_core.exports import CrmExport
from features.catalogue import ModelEntry
from features.schema import ENTITY_KEY
from training.labels import LABEL, outcome_labels

# Fewer judged contacts, or of either outcome, than this and a month's ROC-AUC says nothing.
MIN_JUDGED = 30
MIN_EACH_OUTCOME = 5
DEFAULT_MARGIN = 0.05


@dataclass(frozen=True)
class BandOutcome:
    band: str
    contacts: int
    mean_score: float
    happened: float  # the share of the band's contacts the outcome happened to


@dataclass(frozen=True)
class MonthOutcome:
    month: str  # "2026-07": the scores standing at its first moment
    contacts: int
    positives: int
    roc_auc: float | None  # None when too few contacts of either outcome were judged
    versions: dict[str, int]  # model version -> contacts whose standing score it made
    bands: list[BandOutcome] = field(default_factory=list)


@dataclass(frozen=True)
class OutcomeCheck:
    model_name: str
    horizon_days: int
    holdout_roc_auc: float | None
    margin: float
    months: list[MonthOutcome]
    checked_until: datetime  # outcomes are known for scores standing up to this moment

    @property
    def warning(self) -> str | None:
        """What to do when the newest judged month fell below the holdout by more than the margin."""
        judged = [month for month in self.months if month.roc_auc is not None]
        if not judged or self.holdout_roc_auc is None:
            return None
        newest = judged[-1]
        assert newest.roc_auc is not None
        if newest.roc_auc >= self.holdout_roc_auc - self.margin:
            return None
        return (
            f"live ROC-AUC {newest.roc_auc:.3f} in {newest.month} is below the holdout's {self.holdout_roc_auc:.3f} "
            f"by more than {self.margin:.2f}: retrain on the newer history (`crm-intel train {self.model_name}`) "
            "and compare the challenger before promoting it"
        )

    def as_document(self) -> dict[str, Any]:
        document = asdict(self)
        document["checked_until"] = self.checked_until.isoformat()
        document["warning"] = self.warning
        return document


def month_starts(first: datetime, last: datetime) -> list[datetime]:
    """The first moments of the months after `first` up to `last`, oldest first."""
    starts: list[datetime] = []
    month = datetime(first.year, first.month, 1)
    while True:
        month = datetime(month.year + month.month // 12, month.month % 12 + 1, 1)
        if month > last:
            return starts
        starts.append(month)


def _standing(scores: pl.DataFrame, moment: datetime) -> pl.DataFrame:
    """Each contact's newest score by `moment`."""
    return (
        scores.filter(pl.col("scored_at") <= moment).sort("scored_at").group_by(ENTITY_KEY, maintain_order=True).last()
    )


def _month(export: CrmExport, entry: ModelEntry, scores: pl.DataFrame, moment: datetime) -> MonthOutcome | None:
    standing = _standing(scores, moment)
    if standing.is_empty():
        return None
    labels = outcome_labels(export, entry, [moment]).select(ENTITY_KEY, LABEL)
    judged = standing.join(labels, on=ENTITY_KEY, how="inner")
    if judged.is_empty():
        return None
    positives = int(judged[LABEL].sum())
    enough = (
        judged.height >= MIN_JUDGED and positives >= MIN_EACH_OUTCOME and judged.height - positives >= MIN_EACH_OUTCOME
    )
    auc = float(roc_auc_score(judged[LABEL].to_numpy(), judged["score"].to_numpy())) if enough else None
    bands = (
        judged.group_by("band")
        .agg(pl.len().alias("contacts"), pl.col("score").mean().alias("mean_score"), pl.col(LABEL).mean().alias("rate"))
        .sort("mean_score")
    )
    versions = judged.group_by("model_version").len().sort("model_version")
    return MonthOutcome(
        month=f"{moment:%Y-%m}",
        contacts=judged.height,
        positives=positives,
        roc_auc=None if auc is None or np.isnan(auc) else auc,
        versions={str(version): int(count) for version, count in versions.iter_rows()},
        bands=[
            BandOutcome(str(band), int(count), float(mean), float(rate))
            for band, count, mean, rate in bands.iter_rows()
        ],
    )


def check_outcomes(
    export: CrmExport,
    entry: ModelEntry,
    scores: pl.DataFrame,
    *,
    data_end: datetime,
    holdout_roc_auc: float | None,
    margin: float = DEFAULT_MARGIN,
) -> OutcomeCheck:
    """The months whose outcomes are known by `data_end` (their start at least a horizon before
    it), each judged on the scores standing at its start (`scores`: `crm_core.exports.export_scores`)."""
    checked_until = data_end - timedelta(days=entry.horizon_days)
    months: list[MonthOutcome] = []
    if not scores.is_empty():
        first = scores["scored_at"].min()
        assert isinstance(first, datetime)
        for moment in month_starts(first, checked_until):
            judged = _month(export, entry, scores, moment)
            if judged is not None:
                months.append(judged)
    return OutcomeCheck(entry.name, entry.horizon_days, holdout_roc_auc, margin, months, checked_until)
