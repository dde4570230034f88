"""Who each model is for: one definition read by the labels, the feature build and scoring."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from crm_core.exports import CrmExport
from features.catalogue import BUILT_IN, NEVER_ENGAGED_STATE, OUTSIDE_RULES_STATE, Catalogue, ModelEntry
from features.populations import (
    PopulationUnknownError,
    newest_population,
    population_at,
    populations_at,
    read_population,
)
from features.snapshots import build_snapshots, replace_parquet
from tests.support.exports import export_of
from training.labels import outcome_labels

AS_OF = datetime(2026, 6, 1)
DAY = timedelta(days=1)


def _export() -> CrmExport:
    """Five contacts: 1 engaged lately, 2 lapsed a year ago, 3 engaged by order only, 4 with a
    deal open and nothing else, 5 created after `AS_OF`."""
    contacts = [(i, AS_OF - 500 * DAY) for i in range(1, 5)] + [(5, AS_OF + 10 * DAY)]
    activities = [(1, "call", "phone", AS_OF - 5 * DAY), (2, "call", "phone", AS_OF - 400 * DAY)]
    orders = [(2, AS_OF - 380 * DAY, 50.0), (3, AS_OF - 20 * DAY, 20.0)]
    deals = [(4, 1000.0, "open", AS_OF - 30 * DAY, None), (1, 500.0, "won", AS_OF - 200 * DAY, AS_OF - 100 * DAY)]
    changes = [(2, "lifecycle_stage", "churned", AS_OF - 300 * DAY)]
    return export_of(contacts, activities=activities, orders=orders, deals=deals, changes=changes)


def _members(export: CrmExport, entry: ModelEntry) -> list[int]:
    return sorted(population_at(export, entry, AS_OF).collect()["contact_id"].to_list())


def test_each_outcome_has_its_own_population_at_a_date() -> None:
    export = _export()
    churn, lead = BUILT_IN[0], BUILT_IN[1]
    assert _members(export, churn) == [1, 3], "engaged in the 90 days before; 2 lapsed long ago"
    assert _members(export, churn.model_copy(update={"engagement": ("order",)})) == [3]
    assert _members(export, lead) == [4], "a deal open at the date; 1's deal closed before it"
    churned = ModelEntry.model_validate(
        churn.model_dump(exclude={"outcome"}) | {"outcome": "stage_reached", "stage": "churned"}
    )
    assert _members(export, churned) == [1, 3, 4], (
        "not churned yet and existing then: 2 already churned, 5 created later"
    )


def test_labels_are_built_on_exactly_the_population() -> None:
    export = _export()
    for entry in BUILT_IN[:2]:
        labelled = outcome_labels(export, entry, [AS_OF])["contact_id"].to_list()
        assert sorted(labelled) == _members(export, entry)


def test_the_feature_build_records_each_model_even_with_no_one_in_it(tmp_path: Path) -> None:
    export = replace(_export(), deals=export_of([]).deals)
    path = tmp_path / "populations.parquet"
    replace_parquet(populations_at(export, Catalogue(BUILT_IN), AS_OF), path)
    assert read_population(path, "churn", AS_OF)["contact_id"].to_list() == [1, 3]
    assert read_population(path, "lead", AS_OF).is_empty(), "covered, and no deal is open"
    with pytest.raises(PopulationUnknownError, match="run `crm-intel build-features`"):
        read_population(path, "upsell", AS_OF)
    with pytest.raises(PopulationUnknownError):
        read_population(path, "churn", AS_OF - DAY)
    with pytest.raises(PopulationUnknownError):
        read_population(tmp_path / "never-built.parquet", "churn", AS_OF)


def test_the_newest_snapshot_splits_into_members_and_stated_reasons(tmp_path: Path) -> None:
    export = _export()
    snapshots, populations = tmp_path / "features.parquet", tmp_path / "populations.parquet"
    replace_parquet(build_snapshots(export, [AS_OF - 30 * DAY, AS_OF]), snapshots)
    replace_parquet(populations_at(export, Catalogue(BUILT_IN), AS_OF), populations)

    churn = newest_population(snapshots, populations, BUILT_IN[0])
    assert churn.as_of == AS_OF
    assert churn.members["contact_id"].to_list() == [1, 3]
    assert set(churn.members.columns) >= {"days_since_last_order", "tenure_days"}, "every feature column kept"
    assert dict(churn.outside.iter_rows()) == {2: "already lapsed", 4: NEVER_ENGAGED_STATE}, (
        "4 never ordered or interacted: it has not lapsed"
    )

    # The entry's own feature rules narrow the outcome's population, and say so.
    spenders = ModelEntry.model_validate(
        BUILT_IN[0].model_dump() | {"population": [{"feature": "order_value_lifetime", "op": ">", "value": 0}]}
    )
    narrowed = newest_population(snapshots, populations, spenders)
    assert narrowed.members["contact_id"].to_list() == [3]
    assert dict(narrowed.outside.iter_rows())[1] == OUTSIDE_RULES_STATE
    assert dict(narrowed.outside.iter_rows())[2] == "already lapsed", "the outcome's reason comes first"
