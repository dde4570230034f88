"""A labelled export with no dates (a lead list with a converted flag): the label is the value
each contact holds, the split is random and stratified, and the entry and the run say so."""

from __future__ import annotations

from datetime import datetime, timedelta

import polars as pl
import pytest

from crm_core.exports import CrmExport
from features.catalogue import History, ModelEntry
from features.populations import population_at
from features.snapshots import data_end
from tests.support.exports import export_of
from training.labels import LABEL, outcome_labels
from training.specs import labels_for, spec_for
from training.split import RandomPlan, RandomSplit, RecordOrderSplit, TimeSplit

NOW = datetime(2026, 12, 1, 9, 30)
LEAD_LIST = {
    "name": "lead",
    "title": "Conversion",
    "outcome": "field_value",
    "field": "converted",
    "value": "true",
    "history": "snapshot",
    "meaning": "likely to convert",
}


def _export() -> CrmExport:
    """Six contacts imported from a list at NOW with no events: 1-2 converted, 3-4 not, 5 never
    recorded; 6 a customer of another file, created earlier, with an order."""
    contacts = [(i, NOW) for i in range(1, 6)] + [(6, NOW - timedelta(days=400))]
    changes = [(i, "custom.converted", "true" if i <= 2 else "false", NOW) for i in range(1, 5)]
    return export_of(contacts, orders=[(6, NOW - timedelta(days=300), 10.0)], changes=changes)


def test_a_snapshot_entry_is_labelled_by_the_value_held_and_scores_the_recorded_others() -> None:
    entry = ModelEntry.model_validate(LEAD_LIST)
    export = _export()
    as_of = data_end(export)
    assert as_of == datetime(2026, 12, 2), "a list with no events still dates the data: its import"
    labels = outcome_labels(export, entry, [as_of])
    assert dict(labels.select("contact_id", LABEL).rows()) == {1: 1, 2: 1, 3: 0, 4: 0}, (
        "only the contacts the list labelled; 5 has no value, 6 came from another file"
    )
    members = sorted(population_at(export, entry, as_of).collect()["contact_id"].to_list())
    assert members == [3, 4], "scored: recorded and not converted yet"
    assert entry.outside_state == "converted already 'true', or not recorded"
    assert entry.outcome_in_words() == "custom field converted is 'true' (the value held now: the history has no dates)"
    assert labels_for(entry).__name__ == "field_value_held_now_field_custom.converted_value_true"
    spec = spec_for(entry)
    assert isinstance(spec.split, RandomSplit) and spec.params()["horizon_days"] == "none (no dates)"

    stage = ModelEntry.model_validate(
        LEAD_LIST | {"outcome": "stage_reached", "stage": "customer"} | {"field": None, "value": None}
    )
    customers = outcome_labels(export, stage, [as_of])
    assert customers.height == 6 and customers[LABEL].sum() == 0, "every contact has a stage: all are rows"


@pytest.mark.parametrize(
    ("change", "refusal"),
    [
        ({"outcome": "goes_quiet", "field": None, "value": None}, "needs the dates of what happened"),
        ({"horizon_days": 90}, "a snapshot history has no dates, so no horizon_days"),
        ({"history": "dated"}, "horizon_days is needed"),
        ({"history": "undated"}, "history"),
        ({"history": "dated", "horizon_days": 30, "split": "record_order"}, "a dated history is always split by time"),
        ({"split": "alphabetical"}, "split"),
    ],
)
def test_an_entry_whose_history_and_outcome_disagree_is_refused(change: dict[str, object], refusal: str) -> None:
    with pytest.raises(ValueError, match=refusal):
        ModelEntry.model_validate(LEAD_LIST | change)
    assert ModelEntry.model_validate(LEAD_LIST | {"history": "dated", "horizon_days": 30}).history is History.DATED


def _rows(positives: int, negatives: int) -> pl.DataFrame:
    labels = [1] * positives + [0] * negatives
    return pl.DataFrame({"contact_id": range(1, len(labels) + 1), LABEL: labels}).with_columns(
        pl.lit(NOW).alias("event_timestamp")
    )


def test_the_random_split_is_stratified_reproducible_and_blind_to_row_order() -> None:
    plan = RandomSplit(seed=7).plan([NOW - timedelta(days=30), NOW])
    assert isinstance(plan, RandomPlan) and plan.label_dates == [NOW]
    rows = _rows(100, 400)
    parts = plan.parts(rows, LABEL)
    sizes = [part.height for part in (parts.fit, parts.calibration, parts.holdout)]
    assert sizes == [300, 100, 100]
    assert [part[LABEL].sum() for part in (parts.fit, parts.calibration, parts.holdout)] == [60, 20, 20]
    every = pl.concat([parts.fit, parts.calibration, parts.holdout])["contact_id"].sort().to_list()
    assert every == list(range(1, 501)), "each row in exactly one part"
    again = plan.parts(rows.sample(fraction=1.0, shuffle=True, seed=3), LABEL)
    assert again.holdout["contact_id"].to_list() == parts.holdout["contact_id"].to_list()
    other = RandomSplit(seed=8).plan([NOW]).parts(rows, LABEL)
    assert other.holdout["contact_id"].to_list() != parts.holdout["contact_id"].to_list(), "the seed decides"
    assert "random, stratified by the outcome (the history has no dates)" in plan.params()["split"]
    assert (
        TimeSplit(horizon_days=30).plan([NOW - timedelta(days=90 * k) for k in range(4)]).params()["split"] == "by time"
    )


def test_too_few_of_an_outcome_to_stratify_all_go_to_fitting_for_readiness_to_name() -> None:
    parts = RandomSplit().plan([NOW]).parts(_rows(3, 200), LABEL)
    assert parts.fit.height == 203 and parts.calibration.is_empty() and parts.holdout.is_empty()


def test_a_list_written_in_the_order_things_happened_is_split_in_that_order() -> None:
    """The oldest records fit and the newest are judged, whatever order the rows arrive in; the
    entry asks for it and the run says it."""
    entry = ModelEntry.model_validate(LEAD_LIST | {"split": "record_order"})
    assert isinstance(spec_for(entry).split, RecordOrderSplit)
    assert isinstance(spec_for(ModelEntry.model_validate(LEAD_LIST)).split, RandomSplit), "random unless asked"
    plan = RecordOrderSplit().plan([NOW - timedelta(days=30), NOW])
    assert plan.label_dates == [NOW]
    rows = _rows(50, 450).sample(fraction=1.0, shuffle=True, seed=5)
    parts = plan.parts(rows, LABEL)
    assert parts.fit["contact_id"].to_list() == list(range(1, 301))
    assert parts.calibration["contact_id"].to_list() == list(range(301, 401))
    assert parts.holdout["contact_id"].to_list() == list(range(401, 501))
    assert plan.params()["split"].startswith("in record order: oldest records fit, newest judged")
    assert "first 60% fit, next 20% calibration, last 20% holdout" in plan.params()["split"]


def test_the_data_ends_after_the_newest_dated_event_of_any_kind() -> None:
    """A funnel whose leads stop arriving in May but whose wins run to November ends in
    November: deals closing and stages reached date the history as orders and calls do."""
    leads = [(1, datetime(2018, 5, 3)), (2, datetime(2018, 5, 31))]
    won = [(1, 900.0, "won", datetime(2018, 11, 14, 18, 4), datetime(2018, 11, 14, 18, 4))]
    became = [(1, "lifecycle_stage", "customer", datetime(2018, 11, 14, 18, 4))]
    assert data_end(export_of(leads)) == datetime(2018, 6, 1), "only creations: the newest one"
    assert data_end(export_of(leads, deals=won)) == datetime(2018, 11, 15)
    assert data_end(export_of(leads, changes=became)) == datetime(2018, 11, 15)
    opened = [(2, 50.0, "open", datetime(2018, 7, 2, 9), None)]
    assert data_end(export_of(leads, deals=opened)) == datetime(2018, 7, 3), "an open deal dates its opening"
