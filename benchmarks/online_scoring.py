"""Online scoring over HTTP at a fixed request rate, beside the in-process model call.

A scratch data home gets `crm-intel quickstart`, then a real `crm-intel serve`; the open-loop
generator sends POST /predict/churn (a BentoML API method) for one contact at a time (each answer
includes the online-store read, the calibrated score, its reasons and the stamped write-back). The baseline is the
same champion's scoring call in this process on one feature row, with no HTTP, store or database.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import polars as pl

from benchmarks.load import Call, run_load
from benchmarks.results import Figure
from benchmarks.server import CLI, demo_login_headers, served, served_champion
from serving.settings import serve_workers

if TYPE_CHECKING:
    from serving.champion import Champion

WARMUP_SECONDS = 5


def _champion_and_rows(home: Path) -> tuple[Champion, pl.DataFrame]:
    """The served home's champion and the newest snapshot's rows with its features."""
    from serving.batch import latest_snapshot

    champion = served_champion(home)
    return champion, latest_snapshot(home / "feast" / "offline" / "contact_features.parquet", champion.feature_names)


def _in_process_p(home: Path, calls: int) -> tuple[float, float]:
    """(p50, p99) in ms of the champion scoring one feature row, in this process."""
    from serving.scoring import score_features

    champion, rows = _champion_and_rows(home)
    timings = []
    for number in range(calls):
        row = rows.slice(number % rows.height, 1)
        began = time.perf_counter()
        score_features(champion, row)
        timings.append((time.perf_counter() - began) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 99))


STEP_RATES = (50, 100, 150)  # below the target rate: where the server's capacity lies
CAPACITY_P99_MS = 50.0
CAPACITY_RATES = (50, 100, 150, 200, 250, 300, 400, 500)
REPOSITORY = Path(__file__).resolve().parents[1]  # the peer's service module is imported from here
PEER = [sys.executable, "-m", "bentoml", "serve", "benchmarks.bare_service:BareScorer", "--host", "127.0.0.1"]


def _feature_rows(home: Path) -> list[list[float | None]]:
    """The newest snapshot's rows in the champion's feature order: what the bare peer is sent."""
    champion, rows = _champion_and_rows(home)
    return [list(row) for row in rows.select(champion.feature_names).cast(pl.Float64).rows()]


def _capacity(
    ours: tuple[str, dict[str, str], Callable[[int], Call]],
    peer: tuple[str, dict[str, str], Callable[[int], Call]],
    seconds: float,
    rates: tuple[int, ...],
) -> tuple[float, float, dict[str, float]]:
    """The highest rate at which each server's p99 stays within CAPACITY_P99_MS with no error,
    stepping both up together, the order swapped every step (only the loaded one works)."""
    best = {"ours": 0.0, "peer": 0.0}
    seen: dict[str, float] = {}
    for step, rate in enumerate(rates):
        sides = [("ours", ours), ("peer", peer)]
        for name, (url, headers, plan) in sides if step % 2 == 0 else reversed(sides):
            if step > 0 and best[name] < rates[step - 1]:
                continue  # it failed the step before: a higher rate will not pass
            load = run_load(url, headers, plan, rate=rate, seconds=seconds)
            p99 = load.percentile(99)
            seen[f"{name}_p99_ms_at_{rate}_rps"] = p99
            if p99 <= CAPACITY_P99_MS and load.errors == 0:
                best[name] = float(rate)
    return best["ours"], best["peer"], seen


def run(contacts: int, rate: float, seconds: float, root: Path) -> list[Figure]:
    capacity_seconds = max(3.0, seconds / 4)
    home = root / "var"
    env = dict(os.environ, CRM_HOME=str(home), BENTOML_HOME=str(home / "bentoml"))
    for variable in ("CRM_FIELD_KEYS", "CRM_LOOKUP_KEY", "CRM_PROFILE", "CRM_DATABASE_URL"):
        env.pop(variable, None)  # a scratch embedded home with its own keys
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run([*CLI, "quickstart", "--contacts", str(contacts)], env=env, check=True, capture_output=True)
    with served(env, root) as server:
        headers = demo_login_headers(server.url, home)

        def one_contact(number: int) -> Call:
            return Call("POST", "/predict/churn", {"contact_ids": [1 + (number * 7919) % contacts]}, label="score")

        warmup = run_load(server.url, headers, one_contact, rate=STEP_RATES[0], seconds=WARMUP_SECONDS)
        steps = {
            step: run_load(server.url, headers, one_contact, rate=step, seconds=WARMUP_SECONDS) for step in STEP_RATES
        }
        result = run_load(server.url, headers, one_contact, rate=rate, seconds=seconds)
        rows = _feature_rows(home)

        def one_row(number: int) -> Call:
            return Call("POST", "/predict", {"features": rows[(number * 7919) % len(rows)]}, label="bare")

        with served(dict(env, PYTHONPATH=str(REPOSITORY)), root, PEER) as bare:
            run_load(bare.url, {}, one_row, rate=STEP_RATES[0], seconds=WARMUP_SECONDS)
            ours_rate, peer_rate, ladder = _capacity(
                (server.url, headers, one_contact), (bare.url, {}, one_row), capacity_seconds, CAPACITY_RATES
            )
    # Failed requests count with the time they took to fail: an overloaded server shows up as
    # a huge p99 and an error count, not as a crash of the benchmark.
    in_process_p50, in_process_p99 = _in_process_p(home, 2_000)
    return [
        Figure(
            "online_score_highest_rate_p99_within_50ms",
            ours_rate,
            peer_rate,
            "req/s",
            0.7,
            note=(
                f"the highest of {', '.join(map(str, CAPACITY_RATES))} req/s at which p99 stays within "
                f"{CAPACITY_P99_MS:g} ms with no error, {capacity_seconds:g} s a step; ours: sign-in, online-store "
                "read, score, reasons and write-back; peer: a bare BentoML endpoint with the same champion and "
                f"workers ({serve_workers()}), feature values in the request"
            ),
            extra=ladder,
        ),
        Figure(
            f"online_score_p99_ms_at_{rate:g}_rps",
            result.percentile(99),
            in_process_p99,
            "ms",
            10,
            better="lower",
            target_is_ratio=False,
            note=(
                f"{result.sent:,} requests over {seconds:g} s to {serve_workers()} workers, {result.errors:,} errors "
                f"({', '.join(sorted(set(result.failures)))[:120] or 'none'}); includes the online-store read, reasons "
                "and write-back; baseline: the in-process scoring call"
            ),
            extra={
                "p50_ms": result.percentile(50),
                "p95_ms": result.percentile(95),
                "in_process_p50_ms": in_process_p50,
                "workers": float(serve_workers()),
                "errors": float(result.errors + warmup.errors),
                **{f"p99_ms_at_{step}_rps": steps[step].percentile(99) for step in STEP_RATES},
                **{f"errors_at_{step}_rps": float(steps[step].errors) for step in STEP_RATES},
            },
        ),
    ]
