"""Two checkouts' servers measured side by side, at the same hour: p99 and server CPU per request.

This machine's speed moves by more than a change's effect between runs hours apart (the same
in-process call took 1.6 ms one morning and 3.4 ms that evening), so a served path is compared
with an earlier one by serving each in turn, on a data home that checkout built itself, under
the same open-loop load, and reading the server's CPU time from `/proc`.

    python -m benchmarks.served_side_by_side /path/to/checkout-a /path/to/checkout-b

Each checkout gets `crm-intel quickstart --contacts 2000` in a scratch home (with that
checkout's code), then `crm-intel serve`, then single-contact `POST /predict/churn` at each rate.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from rich.console import Console
from rich.table import Table

from benchmarks.load import Call, process_tree, run_load
from benchmarks.server import demo_login_headers, served

CONTACTS = 2_000
RATES = (100, 130, 150)
SECONDS = 20.0


def _cpu_seconds(root_pid: int) -> float:
    """User plus system CPU time of `root_pid` and every process below it (the workers)."""
    ticks = 0
    for pid in process_tree(root_pid):
        try:
            fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue  # ended between the listing and the read
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def measure(checkout: Path, scratch: Path) -> list[tuple[int, float, float, int]]:
    """(rate, p99 ms, server CPU ms per request, errors) per rate, for `checkout`'s server."""
    home = scratch / "var"
    env = dict(os.environ, CRM_HOME=str(home), BENTOML_HOME=str(home / "bentoml"), PYTHONPATH=str(checkout))
    for variable in ("CRM_FIELD_KEYS", "CRM_LOOKUP_KEY", "CRM_PROFILE", "CRM_DATABASE_URL"):
        env.pop(variable, None)
    cli = [sys.executable, "-m", "crm_intel.cli"]
    subprocess.run(
        [*cli, "quickstart", "--contacts", str(CONTACTS)], env=env, cwd=checkout, check=True, capture_output=True
    )

    def one_contact(number: int) -> Call:
        return Call("POST", "/predict/churn", {"contact_ids": [1 + (number * 7919) % CONTACTS]}, label="score")

    figures = []
    with served(env, scratch) as server:
        headers = demo_login_headers(server.url, home)
        run_load(server.url, headers, one_contact, rate=50, seconds=3)  # warm-up
        for rate in RATES:
            before = _cpu_seconds(server.process.pid)
            result = run_load(server.url, headers, one_contact, rate=rate, seconds=SECONDS)
            spent = _cpu_seconds(server.process.pid) - before
            figures.append((rate, result.percentile(99), spent / max(result.sent, 1) * 1000, result.errors))
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs=2, type=Path, help="two checkouts of crm-intel (git worktrees)")
    arguments = parser.parse_args()
    table = Table(title=f"served side by side: {CONTACTS:,} contacts, {SECONDS:g} s per rate")
    table.add_column("req/s", justify="right")
    measured = []
    for checkout in arguments.checkouts:
        with tempfile.TemporaryDirectory(prefix="crm-side-") as scratch:
            measured.append(measure(checkout.resolve(), Path(scratch)))
        table.add_column(f"{checkout.name}: p99 ms, CPU ms/request, errors", justify="right")
    for index, rate in enumerate(RATES):
        cells = [f"{row[index][1]:,.1f}, {row[index][2]:.2f}, {row[index][3]}" for row in measured]
        table.add_row(str(rate), *cells)
    Console().print(table)


if __name__ == "__main__":
    main()
