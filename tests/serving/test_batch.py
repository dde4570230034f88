from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from crm_core.entities import Prediction
from crm_intel.context import AppContext
from features.schema import describe
from serving.batch import latest_snapshot, score_all
from serving.champion import NoChampionError, load_champion
from training.pipeline import RunResult

pytestmark = pytest.mark.slow


def test_batch_scores_every_contact_once_stamped_with_the_champion(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, trained = trained_crm
    champion = load_champion(ctx.serving.tracking_uri, "churn")
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
        load_champion(f"sqlite:///{tmp_path / 'mlflow.db'}", "churn")
