"""An open-loop HTTP load generator: requests leave at a fixed rate whatever the server does,
and each latency is counted from the moment its request was due, not from when it was sent, so
a stalled server cannot hide its stall by slowing the generator down (coordinated omission).

Also reads a served process tree's resident memory from /proc, to check it stays flat.
"""

from __future__ import annotations

import asyncio
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    json: Any = None
    label: str = ""


@dataclass
class LoadResult:
    seconds: float
    latencies_ms: dict[str, list[float]] = field(default_factory=dict)
    statuses: Counter[str] = field(default_factory=Counter)
    failures: list[str] = field(default_factory=list)

    @property
    def sent(self) -> int:
        return sum(self.statuses.values())

    @property
    def errors(self) -> int:
        return sum(count for status, count in self.statuses.items() if not status.startswith("2"))

    def percentile(self, q: float, label: str | None = None) -> float:
        values = sorted(
            value for name, series in self.latencies_ms.items() if label in (None, name) for value in series
        )
        if not values:
            return float("nan")
        return values[min(len(values) - 1, round(q / 100 * (len(values) - 1)))]


async def _open_loop(
    base_url: str, headers: dict[str, str], plan: Callable[[int], Call], rate: float, seconds: float
) -> LoadResult:
    result = LoadResult(seconds=seconds)
    # aiohttp, not httpx: at 200 requests per second httpx's connection pool took a whole core
    # in this process and fell behind, while the server it measured sat idle.
    connector = aiohttp.TCPConnector(limit=256, limit_per_host=256)
    timeout = aiohttp.ClientTimeout(total=30)
    async with aiohttp.ClientSession(base_url, headers=headers, connector=connector, timeout=timeout) as client:

        async def one(number: int, due: float) -> None:
            call = plan(number)
            try:
                async with client.request(call.method, call.path, json=call.json) as response:
                    body = await response.read()
                    status = str(response.status)
                    if not status.startswith("2"):
                        result.failures.append(f"{call.method} {call.path}: {status} {body[:200]!r}")
            except (aiohttp.ClientError, TimeoutError) as error:
                status = type(error).__name__
                result.failures.append(f"{call.method} {call.path}: {error!r}")
            result.statuses[status] += 1
            result.latencies_ms.setdefault(call.label or call.path, []).append((time.perf_counter() - due) * 1000)

        start = time.perf_counter()
        tasks = []
        for number in range(round(rate * seconds)):
            due = start + number / rate
            delay = due - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            tasks.append(asyncio.create_task(one(number, due)))
        await asyncio.gather(*tasks)
    return result


def run_load(
    base_url: str, headers: dict[str, str], plan: Callable[[int], Call], *, rate: float, seconds: float
) -> LoadResult:
    """Send `rate` requests per second for `seconds`, request number n being `plan(n)`."""
    return asyncio.run(_open_loop(base_url, headers, plan, rate, seconds))


def _parents() -> dict[int, int]:
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                parents[int(entry.name)] = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue  # a process that ended while we looked
    return parents


def process_tree(root: int) -> list[int]:
    """`root` and every process descended from it (a server's supervisor and its workers)."""
    parents = _parents()
    tree, frontier = [root], [root]
    while frontier:
        children = [pid for pid, parent in parents.items() if parent in frontier]
        tree.extend(children)
        frontier = children
    return tree


def tree_rss_bytes(root: int) -> int:
    """Resident memory of `root` and all its descendants."""
    total = 0
    for pid in process_tree(root):
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


@contextmanager
def peak_resident_bytes(
    root: int, every: float, *, limit: int | None = None, on_limit: Callable[[], object] | None = None
) -> Iterator[list[int]]:
    """Samples the resident memory of `root`'s process tree every `every` seconds; yields a
    list whose one item is the peak so far (final once the block ends). Past `limit` bytes,
    `on_limit` is called once."""
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], tree_rss_bytes(root))
            if limit is not None and on_limit is not None and peak[0] > limit:
                on_limit()
                return
            done.wait(every)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    try:
        yield peak
    finally:
        done.set()
        sampler.join()
        peak[0] = max(peak[0], tree_rss_bytes(root))
