"""End to end at size: `crm-intel quickstart --contacts N` in a scratch data home, as a user runs
it (demo CRM, export, features, online refresh, three trainings, scoring and write-back,
recommendations, segments), with the peak resident memory of its whole process tree.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.load import tree_rss_bytes
from benchmarks.results import Figure

MEMORY_BUDGET_GIB = 24


def _quickstart_command() -> list[str]:
    script = Path(sys.executable).with_name("crm-intel")
    return [str(script)] if script.exists() else [sys.executable, "-c", "from crm_intel.cli import app; app()"]


def run(contacts: int, home: Path) -> list[Figure]:
    home.mkdir(parents=True, exist_ok=True)
    environment = {
        name: value for name, value in os.environ.items() if not name.startswith("CRM_") or name == "CRM_FIELD_KEYS"
    }
    environment["CRM_HOME"] = str(home)
    log = home / "quickstart.log"
    peak, done = [0], threading.Event()
    began = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(
            [*_quickstart_command(), "quickstart", "--contacts", str(contacts)],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
        )

        def sample() -> None:
            while not done.is_set():
                peak[0] = max(peak[0], tree_rss_bytes(process.pid))
                done.wait(0.5)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        returncode = process.wait()
        done.set()
        sampler.join()
    seconds = time.perf_counter() - began
    if returncode != 0:
        raise RuntimeError(f"quickstart at {contacts:,} contacts failed ({returncode}); see {log}")
    with sqlite3.connect(home / "crm.db") as connection:
        events = sum(
            connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
            for table in ("activities", "orders", "tickets")
        )
    peak_gib = peak[0] / 2**30
    return [
        Figure(
            f"end_to_end_quickstart_{contacts // 1000}k_contacts_peak_memory",
            peak_gib,
            None,
            "GiB",
            MEMORY_BUDGET_GIB,
            better="lower",
            target_is_ratio=False,
            note=f"{contacts:,} contacts, {events:,} events: {seconds:,.0f} s end to end",
            extra={"seconds": seconds, "events": events},
        )
    ]
