"""A bounded load test on 127.0.0.1 against a real `crm-intel serve`: mixed CRM API traffic
and online scoring (online features + write-back) at a fixed rate, then a graceful shutdown
with requests in flight. Budgets are for a shared 2-core CI machine; `make bench` measures the
latency targets themselves."""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import Iterator

import httpx
import pytest

from benchmarks.load import Call, process_tree, run_load, tree_rss_bytes
from benchmarks.server import demo_login_headers
from tests.conftest import DataHome
from tests.e2e.server import RunningServer, served

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CONTACTS = 1_500
RATE = 40  # requests per second, a quarter of them scoring
WARMUP_SECONDS = 10
LOAD_SECONDS = 40
P99_BUDGET_MS = 500
MEMORY_GROWTH_LIMIT = 0.15


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    root = tmp_path_factory.mktemp("load")
    home = DataHome(root / "var")
    done = home.cli("quickstart", "--contacts", str(CONTACTS), "--seed", "5")
    assert done.returncode == 0, done.stdout + done.stderr
    with served(home, root) as running:
        yield running


def _admin(server: RunningServer) -> dict[str, str]:
    return demo_login_headers(server.url, server.log.parent / "var")


def mixed(number: int) -> Call:
    contact = 1 + (number * 7919) % 1_000
    return (
        Call("GET", f"/api/contacts/{contact}", label="crm read"),
        Call("POST", "/predict/churn", {"contact_ids": [contact]}, label="score"),
        Call("GET", "/api/contacts?limit=20", label="crm list"),
        Call("PATCH", f"/api/contacts/{contact}", {"last_name": f"Load{number}"}, label="crm edit"),
    )[number % 4]


def test_mixed_load_has_no_errors_stays_in_budget_and_keeps_memory_flat(server: RunningServer) -> None:
    headers = _admin(server)
    warmup = run_load(server.url, headers, mixed, rate=RATE, seconds=WARMUP_SECONDS)
    assert warmup.errors == 0, warmup.failures[:5]
    settled = tree_rss_bytes(server.process.pid)
    result = run_load(server.url, headers, mixed, rate=RATE, seconds=LOAD_SECONDS)
    after = tree_rss_bytes(server.process.pid)
    figures = {label: round(result.percentile(99, label), 1) for label in result.latencies_ms}
    print(f"\n{result.sent} requests, p50 {result.percentile(50):.1f} ms, p99 by kind {figures}")
    processes = len(process_tree(server.process.pid))
    print(f"server resident memory ({processes} processes) {settled:,} -> {after:,} bytes")
    assert processes >= 2, "the supervisor and at least one worker are measured"
    assert result.sent == RATE * LOAD_SECONDS and result.errors == 0, result.failures[:5]
    assert result.percentile(99) < P99_BUDGET_MS, figures
    assert after <= settled * (1 + MEMORY_GROWTH_LIMIT), f"resident memory grew from {settled:,} to {after:,} bytes"


async def _in_flight_then_sigterm(server: RunningServer, headers: dict[str, str]) -> tuple[list[int], int]:
    """(statuses, how many answered after the signal was sent)."""
    answered_after: list[bool] = []
    signalled = asyncio.Event()
    sent: list[int] = []

    async def count_sent(_request: httpx.Request) -> None:
        sent.append(1)

    hooks = {"request": [count_sent]}
    async with httpx.AsyncClient(base_url=server.url, headers=headers, timeout=60, event_hooks=hooks) as client:

        async def score(first: int) -> int:
            try:
                response = await client.post("/predict/churn", json={"contact_ids": list(range(first, first + 400))})
            except httpx.HTTPError:
                return -1
            answered_after.append(signalled.is_set())
            return response.status_code

        requests = [asyncio.create_task(score(1 + i)) for i in range(16)]
        # The signal goes once every request is on its way (however slow the machine is to open
        # the connections), and a moment after, so the server holds them when it arrives.
        for _ in range(600):
            if len(sent) == len(requests):
                break
            await asyncio.sleep(0.01)
        await asyncio.sleep(0.05)
        os.killpg(server.process.pid, signal.SIGTERM)
        signalled.set()
        statuses = await asyncio.gather(*requests)
    return list(statuses), sum(answered_after)


def test_sigterm_finishes_the_requests_in_flight(server: RunningServer) -> None:
    """Last in this module: it stops the server."""
    headers = _admin(server)
    statuses, after_signal = asyncio.run(_in_flight_then_sigterm(server, headers))
    assert statuses == [200] * len(statuses), statuses
    assert after_signal > 0, "the signal arrived while requests were still being served"
    assert server.process.wait(timeout=60) is not None
