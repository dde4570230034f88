"""Online scoring over HTTP at a fixed request rate, beside the in-process model call.

A scratch data home gets `crm-intel quickstart`, then a real `crm-intel serve`; the open-loop
generator sends POST /predict/churn (a BentoML API method) for one contact at a time (each answer
includes the online-store read, the calibrated score, its reasons and the stamped write-back). The baseline is the
same champion's scoring call in this process on one feature row, with no HTTP, store or database.
"""

from __future__ import annotations

import os
import subprocess
import time
from pathlib import Path

import numpy as np

from benchmarks.load import Call, run_load
from benchmarks.results import Figure
from benchmarks.server import CLI, demo_login_headers, served
from serving.settings import serve_workers

WARMUP_SECONDS = 5


def _in_process_p(home: Path, calls: int) -> tuple[float, float]:
    """(p50, p99) in ms of the champion scoring one feature row, in this process."""
    from crm_core.protection.keyring import MODEL_SEAL_PURPOSE
    from crm_core.protection.keys import load_keyring
    from crm_core.settings import CoreSettings
    from features.model_registry import ModelRegistry
    from serving.batch import latest_snapshot
    from serving.champion import load_champion
    from serving.scoring import score_features

    # The served home's own seal key: its champion was sealed with it, not with this process's.
    seal_key = load_keyring(CoreSettings(home=home)).derived_key(MODEL_SEAL_PURPOSE)
    champion = load_champion(ModelRegistry(f"sqlite:///{home / 'mlflow.db'}", seal_key=seal_key), "churn")
    rows = latest_snapshot(home / "feast" / "offline" / "contact_features.parquet", champion.feature_names)
    timings = []
    for number in range(calls):
        row = rows.slice(number % rows.height, 1)
        began = time.perf_counter()
        score_features(champion, row)
        timings.append((time.perf_counter() - began) * 1000)
    return float(np.percentile(timings, 50)), float(np.percentile(timings, 99))


STEP_RATES = (50, 100, 150)  # below the target rate: where the server's capacity lies


def run(contacts: int, rate: float, seconds: float, root: Path) -> list[Figure]:
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
    # Failed requests count with the time they took to fail: an overloaded server shows up as
    # a huge p99 and an error count, not as a crash of the benchmark.
    in_process_p50, in_process_p99 = _in_process_p(home, 2_000)
    return [
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
        )
    ]
