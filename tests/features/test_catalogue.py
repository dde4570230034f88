"""The model catalogue: built-in entries, a data home's own entries from `models.toml`, and the
refusals a malformed or hostile file gets (which entry, which field, why)."""

from __future__ import annotations

from pathlib import Path

import polars as pl
import pytest

from features.catalogue import BUILT_IN, Catalogue, ModelKind, Outcome, UnknownModelError
from features.catalogue_file import CATALOGUE_FILE, CatalogueError, load_catalogue
from features.schema import FEATURE_NAMES

UPSELL = """
[[model]]
name = "upsell"
title = "Upsell"
outcome = "order_placed"
horizon_days = 60
meaning = "likely to order again in the next 60 days"
worklist = "My upsell prospects"
features = ["orders_count_90d", "days_since_last_order", "order_value_365d", "order_value_lifetime"]
population = [{ feature = "order_value_lifetime", op = ">", value = 0 }]
"""


def home_with(tmp_path: Path, text: str) -> Path:
    (tmp_path / CATALOGUE_FILE).write_text(text, encoding="utf-8")
    return tmp_path


def test_built_in_models_are_churn_lead_and_recommend_with_their_feature_services(tmp_path: Path) -> None:
    catalogue = load_catalogue(tmp_path)
    assert catalogue.names == ["churn", "lead", "recommend"]
    assert [entry.name for entry in catalogue.scorers()] == ["churn", "lead"]
    assert [entry.name for entry in catalogue.recommenders()] == ["recommend"]
    assert catalogue.get("churn").feature_service == "churn_v1"
    assert catalogue.get("churn").feature_names == FEATURE_NAMES, "no list means every contact feature"
    assert catalogue.get("lead").route == "/lead"
    with pytest.raises(UnknownModelError, match="unknown model 'upsell'; known models: churn, lead, recommend"):
        catalogue.get("upsell")


def test_a_home_adds_a_model_with_its_own_features_population_and_outcome(tmp_path: Path) -> None:
    catalogue = load_catalogue(home_with(tmp_path, UPSELL))
    upsell = catalogue.get("upsell")
    assert catalogue.names[-1] == "upsell" and upsell.kind is ModelKind.SCORER
    assert upsell.outcome is Outcome.ORDER_PLACED and upsell.horizon_days == 60
    assert upsell.feature_names == (
        "orders_count_90d",
        "days_since_last_order",
        "order_value_365d",
        "order_value_lifetime",
    )
    population = upsell.population_expr()
    assert population is not None
    frame = pl.DataFrame({"contact_id": [1, 2, 3], "order_value_lifetime": [0.0, 12.5, None]})
    assert frame.filter(population)["contact_id"].to_list() == [2], "never ordered and unknown are both left out"
    assert upsell.population[0].describe() == "lifetime spend > 0"
    assert upsell.population_in_words() == "contacts who have ordered before, where lifetime spend > 0"


def test_each_built_in_names_its_population_and_the_state_of_everyone_else() -> None:
    """The outcome decides who a model is for; the rest are told why they have no score."""
    built_in = Catalogue(BUILT_IN)
    assert built_in.get("lead").population_in_words() == "contacts with a deal open"
    assert built_in.get("lead").outside_state == "not a lead"
    assert built_in.get("churn").population_in_words() == "contacts with an order or interaction in the 90 days before"
    assert built_in.get("churn").outside_state == "already lapsed"
    assert built_in.get("churn").population_expr() is None, "no feature rules of its own"


@pytest.mark.parametrize(
    ("text", "named"),
    [
        ("[[model]\nname=", "is not valid TOML"),
        (UPSELL.replace('"order_placed"', '"next_purchases"'), "model 1 ('upsell')"),
        (UPSELL.replace('"orders_count_90d", ', '"favourite_colour", '), "not contact features: favourite_colour"),
        (UPSELL.replace('feature = "order_value_lifetime"', 'feature = "x"'), "'x' is not a contact feature"),
        (
            UPSELL.replace(', "order_value_lifetime"]', "]"),
            "population rules on features the model does not take: order_value_lifetime",
        ),
        (UPSELL.replace("horizon_days = 60", "horizon_days = 100000"), "horizon_days"),
        (UPSELL.replace('name = "upsell"', 'name = "Up sell; DROP"'), "name"),
        (UPSELL.replace('name = "upsell"', 'name = "recommend"'), "replaces the built-in recommender"),
        (UPSELL + UPSELL, "model 'upsell' is declared twice"),
        (UPSELL.replace("horizon_days = 60", "horizon_days = 60\nlabels = 'os.system'"), "labels"),
        ("[other]\nx = 1\n", "other"),
        (UPSELL.replace('title = "Upsell"', 'title = "' + "x" * 200 + '"'), "title"),
        (UPSELL.replace('"order_placed"', '"stage_reached"'), "the stage_reached outcome needs stage"),
        (UPSELL.replace('"order_placed"', '"stage_reached"\nstage = "vip"'), "stage"),
        (UPSELL.replace('"order_placed"', '"field_value"\nfield = "plan"'), "the field_value outcome needs value"),
        (UPSELL.replace('"order_placed"', '"order_placed"\nengagement = ["call"]'), "engagement: not a term"),
        (UPSELL.replace('"order_placed"', '"goes_quiet"\nengagement = ["Call Me"]'), "engagement"),
    ],
    ids=[
        "bad-toml",
        "outcome-of-another-kind",
        "unknown-feature",
        "unknown-population-feature",
        "population-feature-not-an-input",
        "horizon",
        "name-pattern",
        "built-in-of-another-kind",
        "twice",
        "unknown-key",
        "unknown-table",
        "long-title",
        "stage-missing",
        "stage-unknown",
        "value-missing",
        "term-of-another-outcome",
        "engagement-pattern",
    ],
)
def test_a_malformed_catalogue_is_refused_naming_the_entry_and_field(tmp_path: Path, text: str, named: str) -> None:
    with pytest.raises(CatalogueError) as refused:
        load_catalogue(home_with(tmp_path, text))
    message = str(refused.value)
    assert named in message and CATALOGUE_FILE in message
    assert "Traceback" not in message


def test_feature_services_follow_the_catalogue(tmp_path: Path) -> None:
    from features.feature_repo.feature_services import feature_services

    services = {service.name: service for service in feature_services(load_catalogue(home_with(tmp_path, UPSELL)))}
    assert set(services) == {"churn_v1", "lead_v1", "upsell_v1"}, "scorers only: the recommender reads no features"

    def served(name: str) -> list[str]:
        return sorted(field.name for view in services[name].feature_view_projections for field in view.features)

    assert served("upsell_v1") == sorted(
        ["orders_count_90d", "days_since_last_order", "order_value_365d", "order_value_lifetime"]
    )
    assert served("churn_v1") == sorted(FEATURE_NAMES)


OWN_OUTCOMES = """
[[model]]
name = "churn"
title = "Churn risk"
outcome = "stage_reached"
stage = "churned"
horizon_days = 180
meaning = "likely to be marked churned within 180 days"

[[model]]
name = "paid"
title = "Paid conversion"
outcome = "field_value"
field = "plan"
value = "paid"
horizon_days = 60
meaning = "likely to move to the paid plan"

[[model]]
name = "quiet_buyers"
title = "Buyers going quiet"
outcome = "goes_quiet"
engagement = ["order", "meeting"]
horizon_days = 90
meaning = "likely to stop buying"
"""


def test_a_home_replaces_a_built_in_with_its_own_outcome_and_says_it_in_words(tmp_path: Path) -> None:
    catalogue = load_catalogue(home_with(tmp_path, OWN_OUTCOMES))
    assert catalogue.names == ["churn", "lead", "recommend", "paid", "quiet_buyers"], "a replacement keeps its place"
    churn = catalogue.get("churn")
    assert (churn.outcome, churn.horizon_days) == ("stage_reached", 180)
    assert churn.label_field == ("lifecycle_stage", "churned")
    assert churn.outcome_in_words() == "the lifecycle stage becomes churned within 180 days"
    assert churn.population_in_words() == "contacts not churned yet"
    assert churn.outside_state == "already churned"
    assert catalogue.get("paid").label_field == ("custom.plan", "paid")
    assert "order or meeting" in catalogue.get("quiet_buyers").outcome_in_words()
    assert "no order or interaction" in load_catalogue(tmp_path / "empty").get("churn").outcome_in_words()


def test_a_long_horizon_gets_the_snapshots_its_time_split_needs(tmp_path: Path) -> None:
    """A churn labelled 180 days ahead needs fit, calibration and holdout dates a horizon apart:
    the build takes as many monthly snapshots as that needs, and the split then plans."""
    from datetime import datetime, timedelta

    from features.pipeline import snapshots_needed
    from features.settings import FeatureSettings
    from training.split import TimeSplit

    settings = FeatureSettings(home=tmp_path)
    assert snapshots_needed(Catalogue(BUILT_IN), settings) == settings.snapshot_count == 12
    (tmp_path / CATALOGUE_FILE).write_text(
        '[[model]]\nname = "churn"\ntitle = "Churn"\noutcome = "stage_reached"\nstage = "churned"\n'
        'horizon_days = 180\nmeaning = "likely to churn"\n'
        '[[model]]\nname = "converted"\ntitle = "Converted"\noutcome = "field_value"\nfield = "won"\nvalue = "true"\n'
        'history = "snapshot"\nmeaning = "likely to convert"\n'
    )
    needed = snapshots_needed(load_catalogue(tmp_path), settings)
    assert needed == 21, "540 days of horizons at 30-day steps, and three fit dates"
    end = datetime(2026, 12, 1)
    dates = [end - timedelta(days=30 * k) for k in reversed(range(needed))]
    plan = TimeSplit(horizon_days=180).plan(dates)
    assert len(plan.fit_dates) == 3 and plan.holdout_date + timedelta(days=180) <= end
    with pytest.raises(ValueError, match="540 days"):
        TimeSplit(horizon_days=180).plan(dates[-12:])
