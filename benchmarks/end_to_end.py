"""End to end at size: `crm-intel quickstart --contacts N` in a scratch data home, as a user runs
it (demo CRM, export, features, online refresh, three trainings, scoring and write-back,
recommendations, segments), with the peak resident memory of its whole process tree.
"""

from __future__ import annotations

import os
import re
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

from benchmarks.load import peak_resident_bytes
from benchmarks.results import Figure

MEMORY_BUDGET_GIB = 24
# The run is stopped before it could take the machine down with it (the budget is the
# machine's whole memory): past this it counts as a miss, with the stage it had reached.
STOP_AT_GIB = 21
# The demo's everyday activity scaled so a contact logs about 50 events over its two years:
# the size goal is 1M contacts with 50M events (the demo's default gives about 26 each).
ACTIVITY_SCALE = 2.2


# How the quickstart reports its stages: "done NAME in S s" for a job, "    STEP: S s" within one.
JOB_DONE = re.compile(r"^done (?P<name>.+?) in (?P<seconds>[\d,.]+) s$")
STEP_DONE = re.compile(r"^ {4}(?P<name>[^ ].*?): (?P<seconds>[\d,.]+) s$")


def stage_seconds(log: str) -> dict[str, float]:
    """Seconds per job and per step within it ("job / step"), read from the quickstart's log, so
    the saved figure says where the time went; the log itself goes with the scratch home."""
    stages: dict[str, float] = {}
    steps: list[tuple[str, float]] = []
    for line in log.replace("\r", "\n").splitlines():
        if step := STEP_DONE.match(line):
            steps.append((step["name"], float(step["seconds"].replace(",", ""))))
        elif job := JOB_DONE.match(line):
            stages[job["name"]] = float(job["seconds"].replace(",", ""))
            stages.update({f"{job['name']} / {name}": seconds for name, seconds in steps})
            steps = []
    return stages


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
    stopped = threading.Event()
    began = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(
            [
                *_quickstart_command(),
                "quickstart",
                "--contacts",
                str(contacts),
                "--activity-scale",
                str(ACTIVITY_SCALE),
            ],
            stdout=output,
            stderr=subprocess.STDOUT,
            env=environment,
        )

        def stop() -> None:
            stopped.set()
            process.kill()

        with peak_resident_bytes(process.pid, every=0.5, limit=STOP_AT_GIB * 2**30, on_limit=stop) as peak:
            returncode = process.wait()
    seconds = time.perf_counter() - began
    if stopped.is_set():
        last_stage = [line for line in log.read_text().splitlines() if line.strip()][-1:]
        note = f"stopped past {STOP_AT_GIB} GiB after {seconds:,.0f} s, at: {' '.join(last_stage)[:120]}"
        extra = {"seconds": seconds, "errors": 1.0}
    elif returncode != 0:
        raise RuntimeError(f"quickstart at {contacts:,} contacts failed ({returncode}); see {log}")
    else:
        with sqlite3.connect(home / "crm.db") as connection:
            events = sum(
                connection.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
                for table in ("activities", "orders", "tickets")
            )
        note = f"{contacts:,} contacts, {events:,} events ({events / contacts:.1f} each): {seconds:,.0f} s end to end"
        extra = {"seconds": seconds, "events": float(events), **stage_seconds(log.read_text(errors="replace"))}
    return [
        Figure(
            f"end_to_end_quickstart_{contacts // 1000}k_contacts_peak_memory",
            peak[0] / 2**30,
            None,
            "GiB",
            MEMORY_BUDGET_GIB,
            better="lower",
            target_is_ratio=False,
            note=note,
            extra=extra,
        )
    ]
