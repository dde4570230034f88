"""Erasure reaches the registered recommenders and their training sets (issue 19, finding 8:
the recommender artifact still held the erased person's purchases).

A real MLflow registry of its own, two registered versions trained on the generated CRM's
purchases: after `forget_in_recommenders` every version, loaded through its (renewed) seal,
treats the erased person as a stranger, and everyone else gets exactly what they got before.
"""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from crm_intel.context import AppContext
from features.model_registry.erasure import forget_in_recommenders
from features.model_registry.vocabulary import ERASURES_APPLIED_TAG
from models.interactions import USER
from models.recommenders import POPULAR, Recommender
from serving.recommend import load_recommender, rows_for
from training.erasure import purge_training_sets
from training.jobs import registry_for
from training.recommendation_pipeline import RecommenderSpec, purchase_events, run_recommender
from training.settings import TrainingSettings

RECOMMENDER = "recommend"

pytestmark = pytest.mark.slow


def _offers(recommender: object, contact_id: int) -> list[tuple[int, str]]:
    lists = recommender.recommend([contact_id], 10)  # type: ignore[attr-defined]
    return [(offer.item_id, offer.reason) for offer in lists[contact_id]]


def test_every_registered_recommender_forgets_an_erased_person(generated_crm: AppContext, tmp_path: Path) -> None:
    training = TrainingSettings(home=tmp_path / "registry")
    registry = registry_for(training)
    first = run_recommender(RecommenderSpec(), generated_crm.engine, registry, training.training_sets_dir)
    second = run_recommender(RecommenderSpec(), generated_crm.engine, registry, training.training_sets_dir)
    assert first.version != second.version

    champion = load_recommender(registry, RECOMMENDER)
    buyers = sorted(set(purchase_events(generated_crm.engine)[USER].to_list()))[:80]
    personal = [user for user in buyers if any(row.reason != POPULAR for row in rows_for(champion, [user]))]
    assert len(personal) >= 2, "the model knows some buyers personally"
    erased, other = personal[0], personal[1]
    other_before = _offers(champion.recommender, other)

    purge = forget_in_recommenders(registry, [erased], [RECOMMENDER])
    assert (purge.versions_rewritten, purge.people_forgotten) == (2, 2)

    after = load_recommender(registry, RECOMMENDER)  # refused unless re-sealed
    assert after.version == champion.version, "the champion stays where it was"
    assert {reason for _, reason in _offers(after.recommender, erased)} == {POPULAR}, "a stranger now"
    assert _offers(after.recommender, other) == other_before, "nobody else's offers change"
    older = registry.load(RECOMMENDER, second.version, Recommender)  # type: ignore[type-abstract]
    assert {reason for _, reason in _offers(older, erased)} == {POPULAR}, "every version, not just the champion"
    assert registry.version(RECOMMENDER, second.version).tags[ERASURES_APPLIED_TAG] == "1"
    assert forget_in_recommenders(registry, [erased], [RECOMMENDER]).versions_rewritten == 0, (
        "a second pass finds nothing"
    )

    assert purge_training_sets(training.training_sets_dir, [erased]) > 0, "the recommender's purchase set too"
    for path in training.training_sets_dir.glob("*.parquet"):
        assert pl.read_parquet(path).filter(pl.col(USER) == erased).height == 0
