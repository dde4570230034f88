"""The scaling curve: every stage at three contact counts (10k -> 100k -> 1M at full size), with
the process's peak memory while the stage ran.

A stage scales linearly when its cost per contact does not grow with the CRM: the figure for
each stage is the cost per contact at the middle size over the cost at the largest (>= 0.91
means the largest costs at most 10% more per contact). The smallest size is shown but not
judged: fixed start-up costs dominate it.
"""

from __future__ import annotations

import gc
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks import recommendations, write_back
from benchmarks.load import peak_resident_bytes
from benchmarks.online_refresh import published_home
from benchmarks.point_in_time import entity_rows
from benchmarks.results import Figure
from benchmarks.synthetic import HISTORY_END, bare_contacts, synthetic_export
from crm_core.bulk_load import load_tables
from features.online.refresh import refresh_online_store
from features.snapshots import build_snapshots, snapshot_dates
from features.store import historical_features, open_store
from models.interactions import UserItemStats
from models.recommenders import ImplicitRecommender

EVENTS_PER_CONTACT = 20
SERVICE = "churn_v1"
LINEAR_WITHIN = 1.10


@dataclass(frozen=True)
class Point:
    stage: str
    contacts: int
    seconds: float
    peak_mb: float

    @property
    def microseconds_per_contact(self) -> float:
        return self.seconds * 1e6 / self.contacts


def _measure(stage: str, contacts: int, work: Callable[..., object], *args: object) -> Point:
    gc.collect()
    with peak_resident_bytes(os.getpid(), every=0.02) as peak:
        began = time.perf_counter()
        work(*args)
        seconds = time.perf_counter() - began
    return Point(stage, contacts, seconds, peak[0] / 2**20)


def _stages_at(contacts: int, home: Path, postgres_url: str) -> list[Point]:
    """Each stage's input is built before its clock starts; inputs are dropped once used, so
    the peak memory of a stage is mostly its own."""
    export = synthetic_export(contacts, contacts * EVENTS_PER_CONTACT)
    dates = snapshot_dates(HISTORY_END, count=3, step_days=30)
    points = [_measure("feature build (1 snapshot)", contacts, build_snapshots, export, [HISTORY_END])]
    snapshots = build_snapshots(export, dates)
    del export
    settings = published_home(home / f"scale-{contacts}", snapshots, None)
    del snapshots
    store = open_store(settings)
    rows = entity_rows(contacts, contacts, dates[0] + timedelta(days=1))  # type: ignore[arg-type]
    points.append(
        _measure("point-in-time set (1 row per contact)", contacts, historical_features, store, rows, SERVICE)
    )
    del rows
    points.append(
        _measure("online refresh (SQLite)", contacts, refresh_online_store, settings, settings.snapshot_path, dates[-1])
    )
    with write_back.scratch_database("sqlite", postgres_url, str(home)) as engine:
        load_tables(engine, {"contacts": bare_contacts(contacts)})
        points.append(_measure("write-back (SQLite)", contacts, write_back.ours, engine, contacts, "scale"))
    stats = recommendations.user_item_stats(contacts)
    points.append(_measure("ALS fit + top-10 for all", contacts, _recommend_all, stats))
    return points


def _recommend_all(stats: UserItemStats) -> None:
    model = ImplicitRecommender("als", factors=64).fit(stats)
    users = stats.users.ids.tolist()
    for start in range(0, len(users), recommendations.BATCH):
        model.recommend(users[start : start + recommendations.BATCH], 10)


def run(sizes: tuple[int, int, int], home: Path, postgres_url: str, console: Console | None = None) -> list[Figure]:
    points = [point for contacts in sizes for point in _stages_at(contacts, home, postgres_url)]
    (console or Console()).print(curve_table(points, sizes))
    figures = []
    middle, largest = sizes[1], sizes[2]
    for stage in dict.fromkeys(point.stage for point in points):
        at = {point.contacts: point for point in points if point.stage == stage}
        figures.append(
            Figure(
                f"scaling_{_slug(stage)}",
                at[largest].microseconds_per_contact,
                at[middle].microseconds_per_contact,
                "µs/contact",
                round(1 / LINEAR_WITHIN, 3),
                better="lower",
                note=(
                    f"{stage}: cost per contact at {largest:,} contacts beside {middle:,}; "
                    f"peak memory {at[largest].peak_mb:,.0f} MB at {largest:,}"
                ),
                extra={
                    **{f"seconds_at_{size}": at[size].seconds for size in sizes},
                    **{f"peak_mb_at_{size}": at[size].peak_mb for size in sizes},
                },
            )
        )
    return figures


def curve_table(points: list[Point], sizes: tuple[int, ...]) -> Table:
    table = Table(title="scaling curve: seconds / µs per contact / peak memory")
    table.add_column("stage")
    for size in sizes:
        table.add_column(f"{size:,} contacts", justify="right")
    for stage in dict.fromkeys(point.stage for point in points):
        at = {point.contacts: point for point in points if point.stage == stage}
        table.add_row(
            stage,
            *(
                f"{at[s].seconds:,.2f} s / {at[s].microseconds_per_contact:,.1f} µs / {at[s].peak_mb:,.0f} MB"
                for s in sizes
            ),
        )
    return table


def _slug(stage: str) -> str:
    return "_".join("".join(c if c.isalnum() else " " for c in stage.split("(", maxsplit=1)[0]).split()).lower()
