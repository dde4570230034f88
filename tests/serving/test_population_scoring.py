"""One population for training and scoring: batch scoring scores the champion's population only
and states the reason for every other contact, and lists, records and drift follow.

The finding: on a real purchase history the churn model, trained on contacts engaged in the 90
days before each date, scored every contact; customers who had lapsed a year earlier were shown
as high risk and flooded the at-risk list, and the first run raised a drift alarm that was only
this mismatch."""

from __future__ import annotations

from datetime import timedelta

import numpy as np
import polars as pl
import pytest
from sqlalchemy import select

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import CurrentScore, PopulationState
from crm_core.exports import export_crm
from crm_core.services.population_states import record_population_states
from crm_core.services.predictions import NewPrediction, record_predictions
from crm_core.services.profiles import get_contact_profile
from crm_core.services.worklists import WorklistFilters, scored_worklist
from crm_core.unit_of_work import UnitOfWork
from crm_intel.app.scoring import score
from crm_intel.context import AppContext
from features.catalogue import NEVER_ENGAGED_STATE
from features.schema import ENTITY_KEY
from models.drift import feature_drift
from serving.batch import BATCH_PRINCIPAL, latest_snapshot, population_snapshot, score_all
from serving.champion import load_champion
from training.drift_report import champion_drift, newest_snapshot
from training.pipeline import RunResult

pytestmark = pytest.mark.slow

ADMIN = Principal.system(Role.ADMIN, "population scoring test")


def _current_and_stated(ctx: AppContext) -> tuple[set[int], dict[int, str]]:
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        current = set(uow.session.scalars(select(CurrentScore.contact_id).where(CurrentScore.model_name == "churn")))
        query = select(PopulationState.contact_id, PopulationState.state).where(PopulationState.model_name == "churn")
        stated: dict[int, str] = {row.contact_id: row.state for row in uow.session.execute(query)}
    return current, stated


def test_lapsed_contacts_get_their_state_not_a_score(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, _ = trained_crm
    champion = load_champion(ctx.registry, "churn")
    # As the product did before: every contact of the snapshot scored, the lapsed ones included.
    everyone = latest_snapshot(ctx.features.snapshot_path, champion.feature_names)
    score_all(ctx.engine, champion, everyone, batch_size=2000)
    population = population_snapshot(ctx.features, ctx.catalogue.get("churn"))
    members = set(population.members[ENTITY_KEY].to_list())
    outside = set(population.outside[ENTITY_KEY].to_list())
    assert members and outside, "the generated CRM has engaged and lapsed customers"
    assert members | outside == set(everyone[ENTITY_KEY].to_list()) and not members & outside

    result, _ = score(ctx, "churn")
    assert (result.contacts, result.stated) == (len(members), len(outside))
    current, stated = _current_and_stated(ctx)
    assert current == members, "the lapsed lost the stale score the older run gave them"
    export = export_crm(ctx.engine)
    engaged = set(export.activities["contact_id"].to_list()) | set(export.orders["contact_id"].to_list())
    assert stated == {c: "already lapsed" if c in engaged else NEVER_ENGAGED_STATE for c in outside}, (
        "who once engaged has lapsed; who never did is told so"
    )

    lapsed = min(outside & engaged)
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        listed = scored_worklist(uow, ADMIN, "churn", WorklistFilters(per_page=100))
        assert listed.total == len(members), "the at-risk list holds the population only"
        assert {row.contact_id for row in listed.rows} <= members
        profile = get_contact_profile(uow, ADMIN, lapsed)
        assert "churn" not in {card.model for card in profile.scores}
        assert [(u.model, u.state) for u in profile.unscored] == [("churn", "already lapsed")]

    # Drift compares the training set with the population scored, not with every contact.
    drift = champion_drift(ctx.registry, ctx.catalogue.get("churn"), ctx.features)
    assert drift is not None
    training_file = ctx.registry.verified_champion("churn").data_snapshot
    assert training_file is not None
    training = newest_snapshot(pl.read_parquet(training_file))
    worst = drift[0]

    def column(frame: pl.DataFrame) -> np.ndarray:
        return frame[worst.feature].cast(pl.Float64).fill_null(float("nan")).to_numpy()

    expected = feature_drift({worst.feature: column(training)}, {worst.feature: column(population.members)})
    assert worst.psi == pytest.approx(expected[0].psi)


def test_a_newer_score_replaces_a_state_and_an_older_state_keeps_a_newer_score(
    trained_crm: tuple[AppContext, RunResult],
) -> None:
    ctx, trained = trained_crm
    score(ctx, "churn")
    population = population_snapshot(ctx.features, ctx.catalogue.get("churn"))
    lapsed, engaged = int(population.outside[ENTITY_KEY][0]), int(population.members[ENTITY_KEY][0])
    later = population.as_of + timedelta(days=1)
    session_factory = make_session_factory(ctx.engine)
    with UnitOfWork(session_factory) as uow:
        # The lapsed customer came back: the next snapshot scores them.
        back = NewPrediction(lapsed, "churn", trained.version, trained.run_id, 0.3, "low", [], later)
        record_predictions(uow, BATCH_PRINCIPAL, [back], scored_at=utc_now())
        # A replayed state from the older snapshot moves nobody's newer score back.
        stored, refused = record_population_states(
            uow,
            BATCH_PRINCIPAL,
            "churn",
            [(engaged, "already lapsed")],
            feature_timestamp=population.as_of - timedelta(days=30),
            decided_at=utc_now(),
        )
        uow.commit()
    assert (stored, refused) == (0, [])
    current, stated = _current_and_stated(ctx)
    assert lapsed in current and lapsed not in stated
    assert engaged in current and engaged not in stated


def test_a_state_is_refused_for_a_contact_out_of_reach_or_blank(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, _ = trained_crm
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        stored, refused = record_population_states(
            uow,
            BATCH_PRINCIPAL,
            "churn",
            [(10**9, "already lapsed"), (1, "  "), (2, "x" * 500)],
            feature_timestamp=utc_now(),
            decided_at=utc_now(),
        )
        uow.commit()
    assert stored == 0
    assert sorted((problem.row, problem.field) for problem in refused) == [
        (0, "contact_id"),
        (1, "state"),
        (2, "state"),
    ]
