"""Two checkouts' servers measured side by side, in alternating rounds: p99 and server CPU per request.

This machine's speed moves by more than a change's effect between runs hours apart (the same
in-process call took 1.6 ms one morning and 3.4 ms that evening), and even between two runs
minutes apart: serving one checkout and then the other twice gave opposite answers, each time
favouring the one served first. So both servers run at once, each on a data home its own
checkout built, and are loaded in turn, short round by short round, the order swapping every
round; only the loaded one works (the other sits idle). Each round gives a paired figure,
the CPU the second server spent per request over the first's, read from `/proc`, so a drift in
machine speed moves both sides of a pair alike.

    python -m benchmarks.served_side_by_side /path/to/checkout-a /path/to/checkout-b

Each checkout gets `crm-intel quickstart --contacts 2000` in a scratch home (with that
checkout's code), then `crm-intel serve`, then single-contact `POST /predict/churn` at each rate.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
from contextlib import ExitStack
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.progress import track
from rich.table import Table

from benchmarks.load import Call, process_tree, run_load
from benchmarks.server import RunningServer, demo_login_headers, served

CONTACTS = 2_000
RATES = (60, 100, 130)
SECONDS = 10.0
ROUNDS = 4


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


@dataclass
class Side:
    """One checkout's server and what it measured, per rate."""

    name: str
    server: RunningServer
    headers: dict[str, str]
    cpu_ms: dict[int, list[float]] = field(default_factory=dict)  # one figure per round
    latencies_ms: dict[int, list[float]] = field(default_factory=dict)  # pooled over rounds
    errors: dict[int, int] = field(default_factory=dict)

    def load(self, rate: int) -> None:
        before = _cpu_seconds(self.server.process.pid)
        result = run_load(self.server.url, self.headers, _one_contact, rate=rate, seconds=SECONDS)
        spent = _cpu_seconds(self.server.process.pid) - before
        self.cpu_ms.setdefault(rate, []).append(spent / max(result.sent, 1) * 1000)
        pooled = self.latencies_ms.setdefault(rate, [])
        pooled.extend(value for series in result.latencies_ms.values() for value in series)
        self.errors[rate] = self.errors.get(rate, 0) + result.errors

    def p99(self, rate: int) -> float:
        values = sorted(self.latencies_ms[rate])
        return values[min(len(values) - 1, round(0.99 * (len(values) - 1)))]


def _one_contact(number: int) -> Call:
    return Call("POST", "/predict/churn", {"contact_ids": [1 + (number * 7919) % CONTACTS]}, label="score")


def _home_env(checkout: Path, home: Path) -> dict[str, str]:
    env = dict(os.environ, CRM_HOME=str(home), BENTOML_HOME=str(home / "bentoml"), PYTHONPATH=str(checkout))
    for variable in ("CRM_FIELD_KEYS", "CRM_LOOKUP_KEY", "CRM_PROFILE", "CRM_DATABASE_URL"):
        env.pop(variable, None)
    return env


def start(stack: ExitStack, checkout: Path, scratch: Path) -> Side:
    """Build `checkout`'s demo home with its own code, serve it, sign in and warm it up."""
    home = scratch / "var"
    env = _home_env(checkout, home)
    quickstart = [sys.executable, "-m", "crm_intel.cli", "quickstart", "--contacts", str(CONTACTS)]
    subprocess.run(quickstart, env=env, cwd=checkout, check=True, capture_output=True)
    server = stack.enter_context(served(env, scratch))
    headers = demo_login_headers(server.url, home)
    run_load(server.url, headers, _one_contact, rate=50, seconds=3)
    return Side(checkout.name, server, headers)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkouts", nargs=2, type=Path, help="two checkouts of crm-intel (git worktrees)")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="alternating rounds (default %(default)s)")
    parser.add_argument("--rates", type=int, nargs="+", default=RATES, help="requests per second (default %(default)s)")
    arguments = parser.parse_args()
    with ExitStack() as stack:
        sides = []
        for checkout in arguments.checkouts:
            scratch = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="crm-side-")))
            sides.append(start(stack, checkout.resolve(), scratch))
        for number in track(range(arguments.rounds), description="alternating rounds"):
            for side in sides if number % 2 == 0 else reversed(sides):
                for rate in arguments.rates:
                    side.load(rate)
    first, second = sides
    rounds = f"{arguments.rounds} alternating rounds of {SECONDS:g} s per rate"
    table = Table(title=f"served side by side: {CONTACTS:,} contacts, {rounds}")
    table.add_column("req/s", justify="right")
    for side in sides:
        table.add_column(f"{side.name}: p99 ms, median CPU ms/request, errors", justify="right")
    table.add_column(f"CPU {second.name} / {first.name} per round (median)", justify="right")
    for rate in arguments.rates:
        ratios = [b / a for a, b in zip(first.cpu_ms[rate], second.cpu_ms[rate], strict=True)]
        cells = [f"{s.p99(rate):,.1f}, {statistics.median(s.cpu_ms[rate]):.2f}, {s.errors[rate]}" for s in sides]
        spread = ", ".join(f"{ratio:.2f}" for ratio in ratios)
        table.add_row(str(rate), *cells, f"{spread} ({statistics.median(ratios):.2f})")
    Console().print(table)


if __name__ == "__main__":
    main()
