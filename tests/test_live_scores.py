"""Live rescoring (issue 22): a write asks for its contact to be rescored in its own transaction,
and the worker's drain recomputes that contact's features with the batch build's code, puts
them online and writes back a stamped score (or the population's reason) per scorer model."""

from __future__ import annotations

import shutil
from dataclasses import replace
from datetime import datetime, timedelta
from pathlib import Path

import polars as pl
import pytest
from sqlalchemy import Engine, select

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.db import make_session_factory
from crm_core.entities import CurrentScore, PopulationState, Prediction, RescoreRequest
from crm_core.exports import export_crm
from crm_core.migrate import upgrade
from crm_core.services import rescoring
from crm_core.services.activities import ingest
from crm_core.services.kinds import CONTACTS
from crm_core.services.owned_records import create_record
from crm_core.unit_of_work import UnitOfWork
from crm_intel.app.live_scores import LiveRescorer
from crm_intel.context import AppContext
from features.catalogue import NEVER_ENGAGED_STATE
from features.catalogue_file import load_catalogue
from features.custom_inputs import custom_inputs
from features.live import live_features, live_members
from features.online import open_online_store
from features.online.layout import OnlineLayout
from features.populations import PopulationBook, PopulationUnknownError, newest_population
from features.settings import FeatureSettings
from features.snapshots import build_snapshots
from training.pipeline import RunResult

ADMIN = Principal.system(Role.ADMIN, "live scoring test")


def test_one_contacts_live_features_equal_the_batch_builds_at_the_same_moment(generated_crm: AppContext) -> None:
    """One definition: the rows live rescoring computes for a few contacts are the batch build's
    rows for them at the same `as_of`, whatever moment of the day it is."""
    catalogue = load_catalogue(generated_crm.features.home)
    everyone = export_crm(generated_crm.engine)
    as_of = datetime(2026, 10, 20, 15, 37, 12)
    newest_contact = int(everyone.contacts["contact_id"].max())  # type: ignore[arg-type]
    wanted = [*everyone.orders["contact_id"].unique().sort().head(3).to_list(), newest_contact]
    batch = build_snapshots(everyone, [as_of], custom_inputs(everyone, catalogue.custom_fields()))
    layout = OnlineLayout.of_schema(batch.schema)
    live = live_features(export_crm(generated_crm.engine, wanted), catalogue, layout, as_of=as_of)
    expected = batch.filter(pl.col("contact_id").is_in(wanted)).sort("contact_id")
    assert live.rows.sort("contact_id").equals(expected), "live rows differ from the batch build's"
    assert live.rows.height == len(wanted)


@pytest.fixture
def live_crm(trained_crm: tuple[AppContext, RunResult], tmp_path: Path) -> AppContext:
    """The trained copy with a feature store of its own (the snapshots copied), so what live
    rescoring puts online stays this test's."""
    ctx, _ = trained_crm
    home = tmp_path / "own"
    shutil.copytree(
        ctx.features.snapshot_path.parent, home / ctx.features.snapshot_path.parent.relative_to(ctx.features.home)
    )
    return replace(ctx, features=FeatureSettings(home=home))


def _log_calls(ctx: AppContext, contact_id: int, count: int) -> None:
    now = utc_now()
    rows = [
        {"contact_id": contact_id, "type": "call", "channel": "phone", "occurred_at": now - timedelta(minutes=k)}
        for k in range(count)
    ]
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        assert ingest(uow, ADMIN, rows, now=now).inserted == count
        uow.commit()


def test_logged_calls_are_rescored_with_the_champion_and_reasons(live_crm: AppContext) -> None:
    ctx = live_crm
    contact_id = 7
    _log_calls(ctx, contact_id, 3)
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        assert rescoring.waiting(uow) == 1, "three calls on one contact are one request"

    began = utc_now()
    rounds = LiveRescorer(ctx).drain()
    assert [done.contacts for done in rounds] == [1]

    champion = ctx.registry.champion_version("churn")
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        assert rescoring.waiting(uow) == 0
        score = uow.session.scalars(
            select(Prediction).where(Prediction.contact_id == contact_id, Prediction.feature_timestamp >= began)
        ).one()
        current = uow.session.get(CurrentScore, ("churn", contact_id))
        assert score.model_version == champion and current is not None and current.prediction_id == score.id
        assert len(score.top_factors) == 3
        scored_on = score.feature_timestamp
    online = open_online_store(ctx.features)
    try:
        stored = online.read([contact_id])[contact_id]
    finally:
        online.close()
    assert stored.as_of == scored_on, "the online row is the one scored"
    row = live_features(
        export_crm(ctx.engine, [contact_id]),
        load_catalogue(ctx.features.home),
        OnlineLayout.of_snapshots(ctx.features.snapshot_path),
        as_of=stored.as_of,
    ).rows
    assert row["activities_count_30d"].item() >= 3 and row["days_since_last_activity"].item() < 1


def test_a_new_contact_is_given_its_state_not_a_confident_score(live_crm: AppContext) -> None:
    ctx = live_crm
    now = utc_now()
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        values = {"first_name": "Eva", "last_name": "New", "lifecycle_stage": "lead"}
        contact = create_record(uow, ADMIN, CONTACTS, values, now=now)
        uow.commit()
        contact_id = contact.id
    LiveRescorer(ctx).drain()
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        state = uow.session.get(PopulationState, ("churn", contact_id))
        scored = uow.session.scalars(select(Prediction).where(Prediction.contact_id == contact_id)).all()
        assert scored == [] and state is not None, "no score from no history"
        said = state.state
    assert said == NEVER_ENGAGED_STATE, said


def test_online_scoring_judges_each_row_at_its_own_moment(live_crm: AppContext) -> None:
    """What BentoML's /predict reads can mix rows of the nightly snapshot and rows a live rescore
    computed: each is judged against the population at its own moment (the file for the first,
    the CRM read now for the second)."""
    ctx = live_crm
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        values = {"first_name": "Eva", "last_name": "New", "lifecycle_stage": "lead"}
        newcomer = create_record(uow, ADMIN, CONTACTS, values, now=utc_now()).id
        uow.commit()
    caller = 7
    _log_calls(ctx, caller, 2)
    catalogue = load_catalogue(ctx.features.home)
    layout = OnlineLayout.of_snapshots(ctx.features.snapshot_path)
    live = live_features(export_crm(ctx.engine, [caller, newcomer]), catalogue, layout, as_of=utc_now()).rows
    entry = catalogue.get("churn")
    built = newest_population(ctx.features.snapshot_path, ctx.features.population_path, entry)
    lapsed = built.outside.head(1)
    snapshot = pl.read_parquet(ctx.features.snapshot_path).filter(
        (pl.col("event_timestamp") == built.as_of) & pl.col("contact_id").is_in(lapsed["contact_id"].implode())
    )
    mixed = pl.concat([live, snapshot.select(live.columns)])
    book = PopulationBook(ctx.features.population_path, live=lambda e, ids, at: live_members(ctx.engine, e, ids, at))
    stated = book.outside(entry, mixed)
    assert stated == {
        newcomer: NEVER_ENGAGED_STATE,
        int(lapsed["contact_id"][0]): lapsed["state"][0],
    }, "the caller, engaged by today's calls, is scored; the others keep their reasons"
    with pytest.raises(PopulationUnknownError):
        PopulationBook(ctx.features.population_path).outside(entry, live)


def test_a_request_made_during_a_rescore_survives_it(engine: Engine) -> None:
    """Coalescing without losing a write: the settle clears only requests the rescore answered."""
    upgrade(engine)
    session_factory = make_session_factory(engine)
    asked = datetime(2026, 12, 1, 9, 0)
    with UnitOfWork(session_factory) as uow:
        for contact_id in (1, 2, 2, 3):
            rescoring.request_rescore(uow, [contact_id], now=asked)
        uow.commit()
    with UnitOfWork(session_factory) as uow:
        claimed = rescoring.claim(uow, limit=2, now=asked + timedelta(seconds=1))
    assert [row.contact_id for row in claimed] == [1, 2]
    with UnitOfWork(session_factory) as uow:
        assert rescoring.claim(uow, limit=5, now=asked + timedelta(seconds=2)) == [rescoring.Claimed(3, asked)], (
            "claimed contacts are not handed out twice"
        )
        rescoring.request_rescore(uow, [2], now=asked + timedelta(seconds=3))  # a write mid-rescore
        uow.commit()
    with UnitOfWork(session_factory) as uow:
        assert rescoring.settle(uow, claimed) == 1
        left = uow.session.execute(select(RescoreRequest.contact_id, RescoreRequest.claimed_at)).all()
    assert sorted(left) == [(2, None), (3, asked + timedelta(seconds=2))]
    with UnitOfWork(session_factory) as uow:
        again = rescoring.claim(uow, limit=5, now=asked + timedelta(minutes=5))
    assert [row.contact_id for row in again] == [3, 2], "the stale claim (oldest request first), then the newer request"
