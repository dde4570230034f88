"""The recommender's run on a generated CRM: real MLflow registry, real write-back."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.entities import ProductRecommendation
from crm_intel.context import AppContext
from features.catalogue_file import CATALOGUE_FILE
from serving.recommend import load_recommender, recommend_all, rows_for
from tests.conftest import own_copy
from training.jobs import train_recommender
from training.recommendation_pipeline import RecommenderSpec, purchase_events, run_recommender, time_holdout

pytestmark = pytest.mark.slow
SERVICE = Principal.system(Role.MODEL_SERVICE, "tests")


def test_the_holdout_is_the_newest_purchases_only(generated_crm: AppContext) -> None:
    events = purchase_events(generated_crm.engine)
    history, later = time_holdout(events, 30)
    cutoff = history["at"].max()
    assert history.height + sum(len(items) for items in later.values()) <= events.height
    assert events.filter(events["at"] > cutoff).height > 0 and later


def test_a_recommenders_horizon_is_the_slice_it_is_judged_on(generated_crm: AppContext, tmp_path: Path) -> None:
    """A company whose customers buy weekly says so in models.toml; the run holds out that week."""
    ctx = own_copy(generated_crm, tmp_path)
    (tmp_path / CATALOGUE_FILE).write_text(
        '[[model]]\nname = "weekly"\nkind = "recommender"\ntitle = "Next week\'s basket"\n'
        'outcome = "next_purchases"\nhorizon_days = 7\nmeaning = "bought next week"\n'
        'primary_metric = "precision_at_10"\n'
    )
    events = purchase_events(ctx.engine)
    run = train_recommender("weekly", ctx.engine, ctx.training)
    week, month = time_holdout(events, 7), time_holdout(events, 30)
    assert run.holdout_users == len(week[1]) < len(month[1]), "judged on the shoppers of the newest week"
    assert run.history_purchases == week[0].height


def test_recommender_is_registered_gated_and_written_back_once(generated_crm: AppContext) -> None:
    ctx = generated_crm
    registry = ctx.registry
    first = run_recommender(RecommenderSpec(), ctx.engine, registry, ctx.training.training_sets_dir)
    assert first.decision.promote and registry.champion_version("recommend") == first.version
    assert set(first.baselines) == {"buy_again", "popularity"}
    assert 0.0 < first.metrics["precision_at_10"] <= 1.0 and first.holdout_users > 50

    again = run_recommender(RecommenderSpec(), ctx.engine, registry, ctx.training.training_sets_dir)
    assert not again.decision.promote, "the same configuration on the same data is a tie"
    assert again.champion_metric == pytest.approx(first.metrics["precision_at_10"])
    assert registry.champion_version("recommend") == first.version

    champion = load_recommender(registry, "recommend")
    assert (champion.version, champion.k) == (first.version, 10)
    sample = rows_for(champion, [1, 2, 3, 10_000_000])
    assert {row.reason for row in sample} <= {"bought_before", "similar_customers", "similar_products", "popular"}
    assert [row.rank for row in sample if row.contact_id == 1] == list(range(1, 11))
    assert {row.reason for row in sample if row.contact_id == 10_000_000} == {"popular"}, "cold start"

    written = recommend_all(ctx.engine, champion, SERVICE, batch_size=700)
    assert written.rejected == 0 and written.inserted == written.contacts * 10
    rerun = recommend_all(ctx.engine, champion, SERVICE, batch_size=700)
    assert (rerun.inserted, rerun.already_present) == (0, written.inserted), "a rerun writes nothing twice"
    with ctx.engine.connect() as connection:
        stored = connection.execute(select(func.count()).select_from(ProductRecommendation)).scalar_one()
    assert stored == written.inserted
