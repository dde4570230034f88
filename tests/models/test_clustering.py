"""Behaviour clusters: found again on data with known groups, named by what sets them apart."""

from __future__ import annotations

import numpy as np

from models.clustering import behaviour_clusters, name_cluster


def test_known_groups_are_found_largest_first_and_named_by_their_difference() -> None:
    rng = np.random.default_rng(0)
    big_spenders = np.column_stack([rng.normal(2_000, 100, 300), rng.normal(3, 1, 300)])
    lapsed = np.column_stack([rng.normal(20, 5, 500), rng.normal(200, 10, 500)])
    values = np.vstack([big_spenders, lapsed])
    names = {"spend": "spend in the last year", "days_since_last_order": "days since the last order"}
    found = behaviour_clusters(values, ["spend", "days_since_last_order"], k=2, seed=1, describe=lambda f: names[f])
    assert [c.size for c in found.clusters] == [500, 300], "largest cluster first"
    assert set(found.labels[:300]) == {1} and set(found.labels[300:]) == {0}
    assert "low spend in the last year" in found.clusters[0].name
    assert "long since the last order" in found.clusters[0].name
    assert "recent last order" in found.clusters[1].name
    again = behaviour_clusters(values, ["spend", "days_since_last_order"], k=2, seed=1, describe=lambda f: names[f])
    assert np.array_equal(again.labels, found.labels), "a refit on the same data is the same"


def test_names_use_the_two_strongest_departures() -> None:
    assert name_cluster({"a": 0.1, "b": -2.0, "c": 1.5}, str.upper) == "low B, high C"
