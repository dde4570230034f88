from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.backup import copy_sqlite, sqlite_path
from crm_core.db import make_engine
from crm_core.entities import Prediction, ShadowPrediction, WriteBackRun
from crm_intel.context import AppContext
from features.model_registry import ModelRegistry, NoChampionError
from features.schema import describe
from serving.batch import latest_snapshot, score_all
from serving.champion import load_champion
from training.pipeline import RunResult

pytestmark = pytest.mark.slow


def test_batch_scores_every_contact_once_stamped_with_the_champion(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, trained = trained_crm
    champion = load_champion(ctx.registry, "churn")
    assert (champion.version, champion.run_id) == (trained.version, trained.run_id)
    snapshot = latest_snapshot(ctx.features.snapshot_path, champion.feature_names)
    first = score_all(ctx.engine, champion, snapshot, batch_size=700)
    assert (first.contacts, first.inserted, first.already_present, first.rejected) == (
        snapshot.height,
        snapshot.height,
        0,
        0,
    )
    again = score_all(ctx.engine, champion, snapshot, batch_size=1000)
    assert (again.inserted, again.already_present) == (0, snapshot.height)
    with Session(ctx.engine) as session:
        rows = session.scalars(select(Prediction).where(Prediction.model_name == "churn")).all()
        assert session.scalar(select(func.count(func.distinct(Prediction.contact_id)))) == len(rows)
    assert len(rows) == snapshot.height
    row = rows[0]
    assert (row.model_version, row.mlflow_run_id) == (trained.version, trained.run_id)
    assert row.band == champion.bands.band(row.score)
    assert len(row.top_factors) == 3
    assert row.top_factors[0]["description"] == describe(row.top_factors[0]["feature"])
    bands = {r.band for r in rows}
    assert {"low", "high"} <= bands, "scores spread across bands on a CRM with churners and loyal customers"


def test_missing_champion_says_to_train_first(tmp_path: Path) -> None:
    with pytest.raises(NoChampionError, match=r"train one first \(`crm-intel train churn`"):
        load_champion(ModelRegistry(f"sqlite:///{tmp_path / 'mlflow.db'}"), "churn")


class _InterruptedError(Exception):
    """Stands in for the process dying between two chunks."""

    pass


def test_an_interrupted_batch_resumes_after_its_last_committed_chunk(
    trained_crm: tuple[AppContext, RunResult], tmp_path: Path
) -> None:
    ctx, _ = trained_crm
    copy = tmp_path / "crm.db"
    copy_sqlite(sqlite_path(ctx.core.resolved_database_url()), copy)  # the shared CRM stays untouched
    engine = make_engine(f"sqlite:///{copy}")
    champion = load_champion(ctx.registry, "churn")
    snapshot = latest_snapshot(ctx.features.snapshot_path, champion.feature_names)
    with Session(engine) as session:
        already = session.scalar(select(func.count()).select_from(Prediction))
    seen: list[int] = []

    def die_after_two_chunks(rows: int) -> None:
        seen.append(rows)
        if len(seen) == 2:
            raise _InterruptedError

    try:
        with pytest.raises(_InterruptedError):
            score_all(engine, champion, snapshot, batch_size=400, on_chunk=die_after_two_chunks, shadow=True)
        resumed = score_all(engine, champion, snapshot, batch_size=400, shadow=True)
        assert resumed.resumed_after_rows == 800, "two committed chunks are not scored again"
        assert (resumed.inserted, resumed.already_present) == (snapshot.height - 800, 0)
        with Session(engine) as session:
            shadow = session.scalars(select(ShadowPrediction.contact_id)).all()
            run = session.scalars(select(WriteBackRun).where(WriteBackRun.target == "shadow_predictions")).one()
            assert session.scalar(select(func.count()).select_from(Prediction)) == already
        assert sorted(shadow) == snapshot["contact_id"].to_list()
        assert (run.rows_done, run.attempts, run.finished_at is not None) == (snapshot.height, 2, True)
    finally:
        engine.dispose()
