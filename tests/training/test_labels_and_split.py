from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from crm_core.exports import CrmExport
from features.catalogue import ModelEntry, Outcome
from tests.support.exports import export_of
from training.labels import outcome_labels
from training.split import NotEnoughHistoryError, TimeSplit

AS_OF = datetime(2026, 6, 1)


def labels_of(
    export: CrmExport, dates: list[datetime], outcome: Outcome, *, horizon_days: int, **terms: object
) -> pl.DataFrame:
    """The labels a catalogue entry with this outcome, horizon and terms gets."""
    entry = ModelEntry.model_validate(
        {"name": "m", "title": "t", "meaning": "m", "outcome": outcome, "horizon_days": horizon_days, **terms}
    )
    return outcome_labels(export, entry, dates)


def export_with(
    activities: list[tuple[int, datetime]],
    orders: list[tuple[int, datetime]],
    changes: list[tuple[int, str, str, datetime]] | None = None,
) -> CrmExport:
    return export_of(
        [(i, AS_OF - timedelta(days=500)) for i in range(1, 6)],
        activities=[(c, "web_visit", "web", at) for c, at in activities],
        orders=[(c, at, 10.0) for c, at in orders],
        changes=changes or [],
    )


def test_churn_label_looks_only_at_the_horizon_after_as_of() -> None:
    day = timedelta(days=1)
    export = export_with(
        activities=[
            (1, AS_OF - 10 * day),
            (1, AS_OF + 30 * day),  # came back: not churned
            (2, AS_OF - 10 * day),  # silent afterwards: churned
            (3, AS_OF - 200 * day),  # inactive before as_of: not in the population
            (4, AS_OF - 5 * day),
            (4, AS_OF + 91 * day),  # back only after the 90-day horizon: churned
        ],
        orders=[(5, AS_OF - 1 * day), (5, AS_OF + 90 * day)],  # an order on the last day counts
    )
    labels = labels_of(export, [AS_OF], Outcome.GOES_QUIET, horizon_days=90)
    assert dict(labels.select("contact_id", "label").iter_rows()) == {1: 0, 2: 1, 4: 1, 5: 0}
    assert (labels["event_timestamp"] == AS_OF).all()


def test_order_label_covers_customers_and_counts_only_orders_within_the_horizon() -> None:
    day = timedelta(days=1)
    export = export_with(
        activities=[(4, AS_OF - 3 * day), (4, AS_OF + 3 * day)],  # interactions are not orders
        orders=[
            (1, AS_OF - 40 * day),
            (1, AS_OF + 59 * day),  # ordered again inside 60 days
            (2, AS_OF - 400 * day),  # a customer long ago, silent since
            (3, AS_OF),  # ordered on as_of itself: a customer already, then nothing
            (3, AS_OF + 61 * day),  # one day past the horizon
            (5, AS_OF + 10 * day),  # first order after as_of: not yet a customer, no row
        ],
    )
    labels = labels_of(export, [AS_OF, AS_OF + 30 * day], Outcome.ORDER_PLACED, horizon_days=60)
    first = labels.filter(pl.col("event_timestamp") == AS_OF)
    assert dict(first.select("contact_id", "label").iter_rows()) == {1: 1, 2: 0, 3: 0}
    later = labels.filter(pl.col("event_timestamp") == AS_OF + 30 * day)
    assert dict(later.select("contact_id", "label").iter_rows()) == {1: 1, 2: 0, 3: 1, 5: 0}


def test_split_keeps_training_outcomes_before_the_holdout() -> None:
    dates = [AS_OF + timedelta(days=30 * k) for k in range(12)]
    plan = TimeSplit(horizon_days=90).plan(dates)
    assert plan.holdout_date == dates[-1] - timedelta(days=90)
    assert plan.train_dates and all(d + timedelta(days=90) <= plan.holdout_date for d in plan.train_dates)
    assert plan.fit_dates == dates[: len(plan.fit_dates)]
    assert plan.calibration_date == max(d for d in dates if d + timedelta(days=90) <= plan.holdout_date)
    # The calibration slice is fitted on nothing whose outcome window reaches its own as_of.
    assert plan.fit_dates and all(d + timedelta(days=90) <= plan.calibration_date for d in plan.fit_dates)
    assert plan.calibration_date + timedelta(days=90) <= plan.holdout_date


def test_split_refuses_too_little_history() -> None:
    dates = [AS_OF + timedelta(days=30 * k) for k in range(5)]
    with pytest.raises(NotEnoughHistoryError, match="270 days"):
        TimeSplit(horizon_days=90).plan(dates)
    with pytest.raises(NotEnoughHistoryError, match="build features"):
        TimeSplit(horizon_days=90).plan([])


def test_churn_counts_only_the_engagement_the_definition_names() -> None:
    """A logged call no longer resets a buyer's churn label when only orders and meetings count."""
    day = timedelta(days=1)
    export = export_with(
        activities=[(1, AS_OF + 10 * day)],  # a web visit after as_of
        orders=[(1, AS_OF - 10 * day), (2, AS_OF - 10 * day), (2, AS_OF + 20 * day)],
    )
    every_kind = labels_of(export, [AS_OF], Outcome.GOES_QUIET, horizon_days=90)
    orders_only = labels_of(export, [AS_OF], Outcome.GOES_QUIET, horizon_days=90, engagement=("order", "meeting"))
    assert dict(every_kind.select("contact_id", "label").rows()) == {1: 0, 2: 0}
    assert dict(orders_only.select("contact_id", "label").rows()) == {1: 1, 2: 0}


def test_a_value_reached_is_labelled_from_the_history_at_each_date() -> None:
    """The population is every contact not holding the value then; the label is taking it within
    the horizon, whatever the contact holds today."""
    day = timedelta(days=1)
    changes = [
        (1, "lifecycle_stage", "customer", AS_OF - 100 * day),
        (1, "lifecycle_stage", "churned", AS_OF + 30 * day),  # churned within the horizon: 1
        (2, "lifecycle_stage", "churned", AS_OF - 5 * day),  # already churned: not in the population
        (3, "lifecycle_stage", "churned", AS_OF + 200 * day),  # only after the horizon: 0
        (4, "lifecycle_stage", "churned", AS_OF - 50 * day),
        (4, "lifecycle_stage", "customer", AS_OF - 10 * day),  # back, then churned again: 1
        (4, "lifecycle_stage", "churned", AS_OF + 60 * day),
        (5, "custom.plan", "paid", AS_OF + 1 * day),  # another field entirely: 0 for the stage
    ]
    export = export_with(activities=[], orders=[], changes=changes)
    stage = labels_of(export, [AS_OF], Outcome.STAGE_REACHED, horizon_days=90, stage="churned")
    assert dict(stage.select("contact_id", "label").rows()) == {1: 1, 3: 0, 4: 1, 5: 0}
    plan = labels_of(export, [AS_OF], Outcome.FIELD_VALUE, horizon_days=90, field="plan", value="paid")
    assert dict(plan.select("contact_id", "label").rows()) == {1: 0, 2: 0, 3: 0, 4: 0, 5: 1}
    later = labels_of(export, [AS_OF + 40 * day], Outcome.FIELD_VALUE, horizon_days=90, field="plan", value="paid")
    assert 5 not in later["contact_id"].to_list(), "a contact already paid is not in the population"
