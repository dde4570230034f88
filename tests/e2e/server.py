"""Starting and stopping a real `crm-intel serve` for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.conftest import CLI, DataHome

STARTUP_SECONDS = 180


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    pytest.fail(f"server not ready after {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


@dataclass(frozen=True)
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]  # the leader of its own process group (the workers are in it)
    log: Path


@contextmanager
def serving(home: DataHome, root: Path) -> Iterator[str]:
    """Serve `home` on a free loopback port; yields the base URL, stops the server after."""
    with served(home, root) as server:
        yield server.url


@contextmanager
def served(home: DataHome, root: Path) -> Iterator[RunningServer]:
    """As `serving`, with the process, for tests that watch or signal it."""
    port = free_port()
    log = root / "server.log"
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*CLI, "serve", "--port", str(port)],
            env=home.env(),
            cwd=root,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_until_ready(url, process, log)
        yield RunningServer(url, process, log)
    finally:
        if process.poll() is None:  # a server that failed to start has nothing left to stop
            os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
