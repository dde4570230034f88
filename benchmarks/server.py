"""Starting and stopping a real `crm-intel serve` on a free loopback port: for the load
benchmark here, and for the end-to-end tests (which wrap it with pytest's failure reporting)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
from sqlalchemy import Engine, text
from sqlalchemy.engine import make_url

if TYPE_CHECKING:
    from serving.champion import Champion

CLI = [sys.executable, "-m", "crm_intel.cli"]
STARTUP_SECONDS = 180


class ServerFailedError(RuntimeError):
    """The server exited, or never answered /readyz, before it was ready."""


@dataclass(frozen=True)
class RunningServer:
    url: str
    process: subprocess.Popen[bytes]  # the leader of its own process group (the workers are in it)
    log: Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def wait_until_ready(url: str, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + STARTUP_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise ServerFailedError(f"server exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(f"{url}/readyz", timeout=2).status_code == 200:
                return
        except httpx.TransportError:
            pass
        time.sleep(0.5)
    raise ServerFailedError(f"server not ready after {STARTUP_SECONDS} s:\n{log.read_text()[-3000:]}")


def demo_login_headers(url: str, home: Path, role: str = "admin") -> dict[str, str]:
    """Sign in over HTTP as the demo user of `role` (logins written by `demo-data` into the home)."""
    logins = json.loads((home / "demo_logins.json").read_text())
    login = next(entry for entry in logins if entry["role"] == role)
    response = httpx.post(
        f"{url}/api/auth/login", json={"email": login["email"], "password": login["password"]}, timeout=30
    )
    response.raise_for_status()
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


@contextmanager
def served(env: Mapping[str, str], root: Path, command: Sequence[str] | None = None) -> Iterator[RunningServer]:
    """`crm-intel serve` (or `command`, given `--port`) with `env` (CRM_HOME and friends),
    logging to root/server.log; stopped with SIGTERM to its process group afterwards (SIGKILL
    if it does not stop in 30 s)."""
    port = free_port()
    log = root / ("server.log" if command is None else "peer.log")
    with log.open("wb") as output:
        process = subprocess.Popen(
            [*(command or [*CLI, "serve"]), "--port", str(port)],
            env=dict(env),
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


PRODUCTION_DATABASES = {"CRM_DATABASE_URL": "crm", "CRM_MLFLOW_TRACKING_URI": "mlflow"}


@contextmanager
def production_profile(admin: Engine, postgres_url: str, redis_url: str) -> Iterator[dict[str, str]]:
    """The production profile's servers for one data home, as environment variables: a new
    PostgreSQL database each for the CRM and MLflow (`admin` creates them: an AUTOCOMMIT engine
    on the server of `postgres_url`), and the emptied Redis database `redis_url`; dropped and
    emptied afterwards."""
    import redis

    names = {variable: f"crm_{kind}_{uuid.uuid4().hex[:10]}" for variable, kind in PRODUCTION_DATABASES.items()}
    with admin.connect() as connection:
        for name in names.values():
            connection.execute(text(f'CREATE DATABASE "{name}"'))
    client = redis.Redis.from_url(redis_url)
    client.flushdb()
    try:
        yield {
            "CRM_PROFILE": "production",
            "CRM_REDIS_URL": redis_url,
            **{
                variable: make_url(postgres_url).set(database=name).render_as_string(hide_password=False)
                for variable, name in names.items()
            },
        }
    finally:
        client.flushdb()
        client.close()
        with admin.connect() as connection:
            for name in names.values():
                connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def served_champion(home: Path) -> Champion:
    """The churn champion of a served embedded home, verified with that home's own seal key
    (its champion was sealed with it, not with this process's keys)."""
    from crm_core.protection.keyring import MODEL_SEAL_PURPOSE
    from crm_core.protection.keys import load_keyring
    from crm_core.settings import CoreSettings
    from features.model_registry import ModelRegistry
    from serving.champion import load_champion

    seal_key = load_keyring(CoreSettings(home=home)).derived_key(MODEL_SEAL_PURPOSE)
    return load_champion(ModelRegistry(f"sqlite:///{home / 'mlflow.db'}", seal_key=seal_key), "churn")
