"""`python -m benchmarks [--quick] [--only NAME ...]`: run the side-by-side benchmarks, print the
table, write benchmarks/results.json (and, at full size, the figures BENCHMARKS.md quotes)."""

from __future__ import annotations

import argparse
import os
import platform
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console

from benchmarks.results import Figure, save, show

RESULTS = Path(__file__).with_name("results.json")
POSTGRES_URL = os.environ.get("CRM_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
# Two Redis databases: ours in this one, Feast's `materialize` in the next (both are emptied).
REDIS_URL = os.environ.get("CRM_BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")


@dataclass(frozen=True)
class Sizes:
    feature_runs: tuple[tuple[int, int], ...]  # (contacts, events) compared with pandas
    feature_absolute: tuple[int, int] | None  # (contacts, events) against the 5 s goal
    write_back_rows: int
    write_back_naive_rows: int
    recommend_contacts: int
    pit: tuple[int, int, int]  # contacts, events, entity rows
    online: tuple[int, float, float]  # contacts in the served CRM, requests per second, seconds
    refresh: tuple[int, int]  # (contacts, events) for the online refresh beside Feast's materialize
    refresh_absolute: tuple[int, int] | None  # (contacts, events) against the 30 s goal
    scaling: tuple[int, int, int]  # contact counts for the scaling curve
    end_to_end: int  # contacts for a whole quickstart
    curves_holdout: int  # holdout rows for the curves a training run logs
    segment_preview: int  # contacts, each with three scoring runs, for the segment preview
    import_rows: int  # file rows per record kind (orders: two lines each)
    live: tuple[int, float]  # contacts in the served CRM, seconds of writes per rate
    batch_scoring: tuple[int, int]  # (contacts, events) scored with reasons beside LightGBM alone


QUICK = Sizes(
    ((10_000, 1_000_000),),
    None,
    20_000,
    2_000,
    20_000,
    (5_000, 300_000, 20_000),
    (2_000, 200, 10),
    (10_000, 500_000),
    None,
    (2_000, 10_000, 50_000),
    3_000,
    50_000,
    20_000,
    20_000,
    (2_000, 10.0),
    (100_000, 2_000_000),
)
FULL = Sizes(
    ((10_000, 1_000_000), (100_000, 10_000_000)),
    (1_000_000, 50_000_000),
    1_000_000,
    20_000,
    1_000_000,
    (100_000, 10_000_000, 200_000),
    (10_000, 200, 60),
    (100_000, 5_000_000),
    (1_000_000, 20_000_000),
    (10_000, 100_000, 1_000_000),
    1_000_000,
    500_000,
    100_000,
    140_000,
    (10_000, 60.0),
    (1_000_000, 20_000_000),
)


def _stages(sizes: Sizes, scratch: Path, console: Console) -> dict[str, Callable[[], list[Figure]]]:
    from benchmarks import (
        batch_scoring,
        end_to_end,
        feature_build,
        live_scores,
        online_refresh,
        online_scoring,
        point_in_time,
        recommendation_write_back,
        recommendations,
        record_imports,
        scaling,
        segment_preview,
        tracking,
        write_back,
    )

    def features() -> list[Figure]:
        figures = [figure for contacts, events in sizes.feature_runs for figure in feature_build.run(contacts, events)]
        if sizes.feature_absolute:
            figures.append(feature_build.run_absolute(*sizes.feature_absolute))
        return figures

    def refresh() -> list[Figure]:
        redis_url = REDIS_URL if online_refresh.redis_reachable(REDIS_URL) else None
        figures = online_refresh.run(*sizes.refresh, scratch / "refresh", redis_url)
        if sizes.refresh_absolute:
            figures.extend(online_refresh.run_absolute(*sizes.refresh_absolute, scratch / "refresh", redis_url))
        return figures

    def writes() -> list[Figure]:
        rows, naive = sizes.write_back_rows, sizes.write_back_naive_rows
        return [
            *write_back.run("sqlite", rows, naive, POSTGRES_URL, str(scratch)),
            *write_back.run("postgresql", rows, naive, POSTGRES_URL, str(scratch)),
        ]

    def recommendation_writes() -> list[Figure]:
        contacts = sizes.write_back_rows // recommendation_write_back.PER_CONTACT
        return [
            *recommendation_write_back.run("sqlite", contacts, POSTGRES_URL, str(scratch)),
            *recommendation_write_back.run("postgresql", contacts, POSTGRES_URL, str(scratch)),
        ]

    return {
        "feature_build": features,
        "point_in_time": lambda: point_in_time.run(*sizes.pit, scratch / "pit"),
        "online_refresh": refresh,
        "write_back": writes,
        "recommendations": lambda: recommendations.run(sizes.recommend_contacts),
        "recommendation_write_back": recommendation_writes,
        "mlflow_overhead": lambda: tracking.run(scratch / "mlflow", curves_rows=sizes.curves_holdout),
        "end_to_end": lambda: end_to_end.run(sizes.end_to_end, scratch / "end_to_end"),
        "online_scoring": lambda: online_scoring.run(*sizes.online, scratch / "online"),
        "scaling": lambda: scaling.run(sizes.scaling, scratch / "scaling", POSTGRES_URL, console),
        "segment_preview": lambda: segment_preview.run(sizes.segment_preview, str(scratch), POSTGRES_URL),
        "batch_scoring": lambda: batch_scoring.run(*sizes.batch_scoring),
        "live_scores": lambda: live_scores.run(
            *sizes.live,
            scratch / "live",
            POSTGRES_URL,
            REDIS_URL if online_refresh.redis_reachable(REDIS_URL) else None,
        ),
        "record_imports": lambda: record_imports.run(
            dict.fromkeys(record_imports.FILES, sizes.import_rows), POSTGRES_URL, str(scratch)
        ),
    }


def main(argv: list[str] | None = None) -> list[Figure]:
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="small sizes (a few minutes)")
    parser.add_argument(
        "--only", nargs="*", default=None, help="stages to run (default: all); other figures in --out are kept"
    )
    parser.add_argument("--out", type=Path, default=RESULTS, help="where to write the JSON")
    args = parser.parse_args(argv)
    os.environ.setdefault("FEAST_USAGE", "False")
    from crm_core.protection import keyring
    from crm_core.protection.keyring import FieldKeyring

    keyring.install(FieldKeyring.generate())  # scratch CRMs only: keys die with the run
    console = Console(width=150)  # the table is wider than a default 80-column pipe
    figures: list[Figure] = []
    with tempfile.TemporaryDirectory(prefix="crm-bench-") as folder:
        stages = _stages(QUICK if args.quick else FULL, Path(folder), console)
        for name in args.only or list(stages):
            began = time.perf_counter()
            with console.status(f"benchmark: {name}"):
                figures.extend(stages[name]())
            console.print(f"  {name}: {time.perf_counter() - began:,.1f} s")
    size = "quick" if args.quick else "full"
    show(figures, f"crm-intel benchmarks ({size} sizes, {platform.machine()}, {os.cpu_count()} cores)", console)
    save(figures, args.out, sizes=size, keep_others=args.only is not None)
    met = sum(figure.met for figure in figures)
    console.print(f"{met} of {len(figures)} targets met; written to {args.out}")
    return figures


if __name__ == "__main__":
    main()
