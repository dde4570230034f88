"""The benchmark harness runs and its baselines compute what ours computes (speed is reported
by `make bench`, never asserted here)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from benchmarks import feature_build
from benchmarks.__main__ import main
from benchmarks.results import Figure

pytestmark = pytest.mark.slow


def test_the_pandas_twin_computes_the_same_features_as_ours() -> None:
    # run() asserts frame equality before it reports any time; a drift in either side fails here.
    (figure,) = feature_build.run(2_000, 150_000, repeats=1)
    assert figure.baseline is not None and figure.ours > 0
    assert figure.name == "feature_build_0.15m_events_vs_pandas"


def test_a_quick_run_writes_results_in_the_documented_shape(tmp_path: Path) -> None:
    out = tmp_path / "results.json"
    figures = main(["--quick", "--only", "feature_build", "recommendations", "--out", str(out)])
    saved = json.loads(out.read_text())
    assert set(saved) == {figure.name for figure in figures} and len(saved) == 3
    for entry in saved.values():
        assert {"ours", "baseline", "ratio", "target", "met", "unit"} <= set(entry)
        assert isinstance(entry["met"], bool)


def test_a_ratio_reads_as_times_better_whichever_way_the_unit_points() -> None:
    faster = Figure("seconds", ours=2.0, baseline=10.0, unit="s", target=4, better="lower")
    more = Figure("throughput", ours=50.0, baseline=10.0, unit="rows/s", target=6)
    assert (faster.ratio, faster.met) == (5.0, True)
    assert (more.ratio, more.met) == (5.0, False)
    absolute = Figure("1m", ours=9.0, baseline=None, unit="s", target=8, better="lower", target_is_ratio=False)
    assert (absolute.ratio, absolute.met) == (None, False)
