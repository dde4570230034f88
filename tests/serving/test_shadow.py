"""Shadow scoring: the challenger that lost the gate scores the live population into the side
table; the records keep showing the champion's scores only."""

from __future__ import annotations

import pytest
from sqlalchemy import func, select

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.db import make_session_factory
from crm_core.entities import ShadowPrediction
from crm_core.exports import export_crm
from crm_core.services.profiles import get_contact_profile
from crm_core.unit_of_work import UnitOfWork
from crm_intel.context import AppContext
from serving.batch import latest_snapshot, score_all
from serving.champion import load_challenger
from training.jobs import train
from training.pipeline import RunResult

pytestmark = pytest.mark.slow


def test_the_losing_challenger_is_scored_in_the_shadows(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, champion = trained_crm
    challenger_run = train("churn", export_crm(ctx.engine), ctx.features, ctx.training)  # a tie: not promoted
    assert not challenger_run.decision.promote
    challenger = load_challenger(ctx.registry, "churn")
    assert challenger is not None and challenger.version == challenger_run.version != champion.version

    snapshot = latest_snapshot(ctx.features.snapshot_path, challenger.feature_names)
    shadow = score_all(ctx.engine, challenger, snapshot, batch_size=900, shadow=True)
    assert (shadow.inserted, shadow.rejected) == (snapshot.height, 0)
    with ctx.engine.connect() as connection:
        versions = connection.execute(select(ShadowPrediction.model_version).distinct()).scalars().all()
        stored = connection.execute(select(func.count()).select_from(ShadowPrediction)).scalar_one()
    assert versions == [challenger.version] and stored == snapshot.height

    contact_id = int(snapshot["contact_id"][0])
    with UnitOfWork(make_session_factory(ctx.engine)) as uow:
        profile = get_contact_profile(uow, Principal.system(Role.ADMIN, "tests"), contact_id)
    assert challenger.version not in {score.version for score in profile.scores if score.model == "churn"}
