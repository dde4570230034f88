"""The benchmark harness runs and its baselines compute what ours computes (speed is reported
by `make bench`, never asserted here)."""

from __future__ import annotations

import io
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, func, select

from benchmarks import (
    batch_scoring,
    end_to_end,
    feature_build,
    recommendation_write_back,
    recommendations,
    scaling,
    tracking,
)
from benchmarks.__main__ import main
from benchmarks.results import Figure
from benchmarks.synthetic import bare_contacts
from crm_core.bulk_load import load_tables
from crm_core.entities import ProductRecommendation
from crm_intel import console as console_module
from features.model_registry import ModelRegistry
from training.settings import TrainingSettings

pytestmark = pytest.mark.slow


def test_the_pandas_twin_computes_the_same_features_as_ours() -> None:
    # run() asserts frame equality before it reports any time; a drift in either side fails here.
    (figure,) = feature_build.run(2_000, 150_000, repeats=1)
    assert figure.baseline is not None and figure.ours > 0
    assert figure.name == "feature_build_0.15m_events_vs_pandas"


def test_a_quick_run_of_some_stages_writes_their_figures_and_keeps_the_others(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    earlier = {"online_refresh_sqlite_1000k_contacts": {"ours": 202.0, "sizes": "full"}}
    out.write_text(json.dumps(earlier | {"als_fit_seconds": {"ours": -1.0, "sizes": "full"}}))
    figures = main(["--quick", "--only", "feature_build", "recommendations", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert len(figures) == 3 and set(saved) == {figure.name for figure in figures} | set(earlier)
    assert saved["online_refresh_sqlite_1000k_contacts"] == earlier["online_refresh_sqlite_1000k_contacts"]
    for figure in figures:
        entry = saved[figure.name]
        assert {"ours", "baseline", "ratio", "target", "met", "unit"} <= set(entry)
        assert isinstance(entry["met"], bool) and entry["sizes"] == "quick" and entry["ours"] > 0
    ranked = saved["recommend_top10_1m_contacts_seconds"]["extra"]["products_ranked"]
    assert ranked == recommendations.ITEMS, "the whole catalogue is ranked at any size"


def test_a_ratio_reads_as_times_better_whichever_way_the_unit_points() -> None:
    faster = Figure("seconds", ours=2.0, baseline=10.0, unit="s", target=4, better="lower")
    more = Figure("throughput", ours=50.0, baseline=10.0, unit="rows/s", target=6)
    assert (faster.ratio, faster.met) == (5.0, True)
    assert (more.ratio, more.met) == (5.0, False)
    absolute = Figure("1m", ours=9.0, baseline=None, unit="s", target=8, better="lower", target_is_ratio=False)
    assert (absolute.ratio, absolute.met) == (None, False)


def test_the_scaling_curve_times_every_stage_at_every_size_with_its_peak_memory(tmp_path: Path) -> None:
    sizes = (300, 600, 1_200)
    figures = scaling.run(sizes, tmp_path, "postgresql+psycopg://unused")  # the SQLite paths only
    assert [figure.name for figure in figures] == [
        "scaling_feature_build",
        "scaling_point_in_time_set",
        "scaling_online_refresh",
        "scaling_write_back",
        "scaling_als_fit_top_10_for_all",
    ]
    for figure in figures:
        assert figure.unit == "µs/contact" and figure.ours > 0 and figure.baseline
        assert all(figure.extra[f"seconds_at_{size}"] > 0 for size in sizes)
        assert all(figure.extra[f"peak_mb_at_{size}"] > 100 for size in sizes), "a Python process with polars"


def test_mlflow_overhead_is_timed_per_run_and_every_run_is_registered(tmp_path: Path) -> None:
    (figure,) = tracking.run(tmp_path, runs=3, curves_rows=30_000)
    assert 0 < figure.ours <= figure.extra["slowest_seconds"]
    assert figure.extra["holdout_rows_for_curves"] == 30_000 and figure.extra["holdout_curves_seconds"] > 0
    registry = ModelRegistry(TrainingSettings(home=tmp_path).tracking_uri)
    assert registry.champion_history(tracking.MODEL) == ["1", "2", "3"], "each run registered and promoted"


def test_the_end_to_end_figure_reads_each_stage_from_the_quickstarts_own_log(monkeypatch: pytest.MonkeyPatch) -> None:
    log = io.StringIO()
    monkeypatch.setattr(console_module.console, "file", log)
    timer = console_module.StageTimer()
    with timer.stage("demo data (1,000 contacts, seed 7)"):
        pass
    with timer.stage("train churn (calibrated graduated fit, MLflow)"), console_module.StepReporter() as step:
        step("fit on 1,694,021 rows, calibrate on 682,456")
        step("log and register in MLflow")
    log.write("Downloading artifacts: 100%|##| 7/7\r  scoring churn v1 ---- 1000/1000\n")

    stages = end_to_end.stage_seconds(log.getvalue())

    churn = "train churn (calibrated graduated fit, MLflow)"
    assert set(stages) == {
        "demo data (1,000 contacts, seed 7)",
        churn,
        f"{churn} / fit on 1,694,021 rows, calibrate on 682,456",
        f"{churn} / log and register in MLflow",
    }
    assert [stages[name] for name, _, _ in timer.rows] == [round(seconds, 1) for _, seconds, _ in timer.rows]


def test_both_recommendation_writes_store_every_list_whole(engine: Engine) -> None:
    """Ours and the raw baseline write the same lists (under different versions) on each dialect."""
    contacts = 250
    load_tables(engine, {"contacts": bare_contacts(contacts), "products": recommendation_write_back.products_table()})
    assert recommendation_write_back.ours(engine, contacts, "ours") > 0
    assert recommendation_write_back.raw_bulk(engine, contacts, "raw") > 0
    with engine.connect() as connection:
        stored = connection.execute(
            select(
                ProductRecommendation.model_version,
                func.count(),
                func.count(func.distinct(ProductRecommendation.contact_id)),
            )
            .group_by(ProductRecommendation.model_version)
            .order_by(ProductRecommendation.model_version)
        ).all()
    per_version = (contacts * recommendation_write_back.PER_CONTACT, contacts)
    assert [tuple(row) for row in stored] == [("ours", *per_version), ("raw", *per_version)]


def test_the_segment_preview_benchmark_answers_what_polars_answers(tmp_path: Path) -> None:
    from benchmarks import segment_preview

    [figure] = segment_preview.run(2_000, str(tmp_path), "postgresql+psycopg://unused")  # SQLite only
    assert figure.extra["members"] > 0 and figure.extra["contactable"] <= figure.extra["members"]
    assert figure.ours > 0 and figure.baseline is not None and figure.baseline > 0


def test_batch_scoring_is_timed_beside_lightgbm_alone_with_every_step_accounted() -> None:
    (figure,) = batch_scoring.run(3_000, 60_000)
    assert figure.ours > 0 and figure.baseline is not None and figure.baseline > 0
    steps = ("model_input_s", "contributions_and_score_s", "reasons_s", "rows_and_rest_s")
    assert all(figure.extra[step] >= 0 for step in steps)
    assert sum(figure.extra[step] for step in steps) == pytest.approx(figure.extra["ours_s"], rel=0.35)
