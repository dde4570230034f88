"""Write -> new score on the profile: how long after a logged call its contact's record shows a
score computed from it, at a steady rate of writes, on the embedded default and on the
production profile (PostgreSQL + Redis).

A scratch home gets the demo CRM, its features and a churn champion, then a real `crm-intel
serve` (its worker rescores live). The open-loop generator logs one call per request
(POST /api/activities/batch), each to a different contact; a write's latency is from the moment
it was sent to the `scored_at` of the first churn score of its contact computed after it (the
same clock: server and generator share the machine). The peer is the floor of the same work:
rescoring one contact in this process (`LiveRescorer.rescore`: its export, transforms, online
write, scoring and write-back) with no HTTP, queue or wait for the worker.
"""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from sqlalchemy import create_engine, func, select

from benchmarks.load import Call, run_load
from benchmarks.results import Figure
from benchmarks.server import CLI, demo_login_headers, production_profile, served

RATES = (20.0, 50.0)
DRAIN_PATIENCE_SECONDS = 120.0
TARGET_P95_SECONDS = 2.0


@contextmanager
def _production(postgres_url: str, redis_url: str) -> Iterator[dict[str, str]]:
    admin = create_engine(postgres_url, isolation_level="AUTOCOMMIT")
    try:
        with production_profile(admin, postgres_url, redis_url) as services:
            yield services
    finally:
        admin.dispose()


def _prepare(env: dict[str, str], contacts: int) -> None:
    for step in (["demo-data", "--contacts", str(contacts)], ["build-features"], ["train", "churn"]):
        subprocess.run([*CLI, *step], env=env, check=True, capture_output=True)


def _latencies(database_url: str, sent: dict[int, datetime]) -> list[float]:
    """Seconds from each write to the first churn score of its contact computed after it,
    once the worker has drained its outbox (a write never rescored counts as the wait)."""
    from crm_core.entities import Prediction, RescoreRequest

    engine = create_engine(database_url)
    try:
        deadline = time.monotonic() + DRAIN_PATIENCE_SECONDS
        with engine.connect() as connection:
            while time.monotonic() < deadline:
                if not connection.execute(select(func.count()).select_from(RescoreRequest)).scalar_one():
                    break
                connection.rollback()
                time.sleep(0.2)
            rows = connection.execute(
                select(Prediction.contact_id, func.min(Prediction.scored_at))
                .where(Prediction.model_name == "churn", Prediction.contact_id.in_(list(sent)))
                .where(Prediction.scored_at >= min(sent.values()))
                .group_by(Prediction.contact_id)
            ).all()
            first = {int(contact): scored for contact, scored in rows}
    finally:
        engine.dispose()
    return [
        (first[contact] - at).total_seconds() if contact in first else DRAIN_PATIENCE_SECONDS
        for contact, at in sent.items()
    ]


def _floor_seconds(env: dict[str, str], contacts: list[int]) -> list[float]:
    """The same rescore in this process, one contact at a time: the floor."""
    from crm_core.protection import keyring
    from crm_core.protection.keys import load_keyring
    from crm_core.settings import CoreSettings
    from crm_intel.app.live_scores import LiveRescorer
    from crm_intel.context import AppContext
    from features.settings import FeatureSettings
    from serving.settings import ServingSettings
    from training.settings import TrainingSettings

    previous = keyring.active()
    settings = {key: value for key, value in env.items() if key.startswith("CRM_")}
    home = Path(settings["CRM_HOME"])
    core = CoreSettings(
        home=home, database_url=settings.get("CRM_DATABASE_URL"), redis_url=settings.get("CRM_REDIS_URL")
    )
    keyring.install(load_keyring(core))  # the served home's keys: its champion is sealed with them
    try:
        ctx = AppContext(
            core=core,
            features=FeatureSettings(home=home, redis_url=settings.get("CRM_REDIS_URL")),
            training=TrainingSettings(home=home, mlflow_tracking_uri=settings.get("CRM_MLFLOW_TRACKING_URI")),
            serving=ServingSettings(home=home, mlflow_tracking_uri=settings.get("CRM_MLFLOW_TRACKING_URI")),
        )
        rescorer = LiveRescorer(ctx)
        rescorer.rescore(contacts[:1])  # loads the champion
        timings = []
        for contact in contacts:
            began = time.perf_counter()
            rescorer.rescore([contact])
            timings.append(time.perf_counter() - began)
        return timings
    finally:
        keyring.install(previous)


def _calls_to_new_contacts(contacts: Iterator[int], sent: dict[int, datetime]) -> Callable[[int], Call]:
    """Request n logs one call on the next contact, noting when it was sent."""

    def one_call(_: int) -> Call:
        contact = next(contacts)
        sent[contact] = datetime.now(UTC).replace(tzinfo=None)
        call = {
            "contact_id": contact,
            "type": "call",
            "channel": "phone",
            "occurred_at": sent[contact].isoformat() + "Z",
        }
        return Call("POST", "/api/activities/batch", {"activities": [call]}, label="write")

    return one_call


def run_profile(profile: str, contacts: int, seconds: float, root: Path, services: dict[str, str]) -> list[Figure]:
    home = root / "var"
    env = dict(os.environ, CRM_HOME=str(home), BENTOML_HOME=str(home / "bentoml"), CRM_SCHEDULES="off", **services)
    for variable in ("CRM_FIELD_KEYS", "CRM_LOOKUP_KEY"):
        env.pop(variable, None)  # a scratch home with its own keys
    if not services:
        for variable in ("CRM_PROFILE", "CRM_DATABASE_URL", "CRM_REDIS_URL", "CRM_MLFLOW_TRACKING_URI"):
            env.pop(variable, None)
    root.mkdir(parents=True, exist_ok=True)
    _prepare(env, contacts)
    database_url = services.get("CRM_DATABASE_URL") or f"sqlite:///{home / 'crm.db'}"
    figures = []
    next_contact = iter(range(1, contacts + 1))
    floor: list[float] = []
    with served(env, root) as server:
        headers = demo_login_headers(server.url, home)
        for rate in RATES:
            sent: dict[int, datetime] = {}
            load = run_load(server.url, headers, _calls_to_new_contacts(next_contact, sent), rate=rate, seconds=seconds)
            waits = _latencies(database_url, sent)
            floor = floor or _floor_seconds(env, list(range(contacts, contacts - 50, -1)))
            p50, p95 = float(np.percentile(waits, 50)), float(np.percentile(waits, 95))
            figures.append(
                Figure(
                    f"live_rescore_p95_s_{profile}_at_{rate:g}_writes_per_s",
                    p95,
                    float(np.percentile(floor, 95)),
                    "s",
                    TARGET_P95_SECONDS,
                    better="lower",
                    target_is_ratio=False,
                    note=(
                        f"{len(waits):,} writes over {seconds:g} s, {load.errors:,} refused; write -> score on the "
                        f"record p50 {p50:.2f} s; baseline: one contact rescored in-process (p50 "
                        f"{float(np.percentile(floor, 50)) * 1000:.0f} ms)"
                    ),
                    extra={
                        "p50_s": p50,
                        "p95_s": p95,
                        "max_s": float(max(waits)),
                        "errors": float(load.errors),
                        "write_p95_ms": load.percentile(95),
                        "floor_p50_s": float(np.percentile(floor, 50)),
                    },
                )
            )
    return figures


def run(contacts: int, seconds: float, root: Path, postgres_url: str, redis_url: str | None) -> list[Figure]:
    figures = run_profile("embedded", contacts, seconds, root / "embedded", {})
    if redis_url is not None:
        with _production(postgres_url, redis_url) as services:
            figures += run_profile("production", contacts, seconds, root / "production", services)
    return figures
