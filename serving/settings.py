"""Serving settings: which data home, database and model registry the service uses."""

from __future__ import annotations

import os

from pydantic import Field

from crm_core.settings import HomeSettings


class ServingSettings(HomeSettings):
    production_urls = (("mlflow_tracking_uri", "CRM_MLFLOW_TRACKING_URI", ("postgresql",)),)

    mlflow_tracking_uri: str | None = None
    batch_size: int = 20_000
    champion_refresh_seconds: float = 30.0
    # Prediction requests one worker works on at once (the rest wait, holding no thread): the
    # GIL runs one at a time and SQLite one writer, so a few keep the pipeline full.
    prediction_threads: int = Field(default=4, ge=1, le=64)

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home.resolve() / 'mlflow.db'}"


# Past this many workers the CRM's single database, not the CPU, bounds the write-back rate.
MAX_DEFAULT_WORKERS = 4


def serve_workers() -> int:
    """Worker processes for `crm-intel serve`: `CRM_SERVE_WORKERS`, else one per core up to four.

    A worker serves one request's Python at a time (the GIL), so one per core is what lifts the
    online rate: on this project's 2-core machine a single worker saturated near 130 scoring
    requests per second. Writers in several workers share SQLite through its write gate
    (`crm_core.sqlite_gate`), which hands the file over between processes at once.

    Read from the environment alone, because BentoML takes the count when the service module is
    imported, before any settings could be validated. Every worker holds its own models and
    Feast store; the CRM, the registry and the model-page jobs are shared through the database
    and the data home, so any worker can answer any request.
    """
    configured = os.environ.get("CRM_SERVE_WORKERS")
    if configured is None:
        return max(1, min(len(os.sched_getaffinity(0)), MAX_DEFAULT_WORKERS))
    try:
        workers = int(configured)
    except ValueError:
        raise ValueError(f"CRM_SERVE_WORKERS must be a whole number of worker processes, not {configured!r}") from None
    if workers < 1:
        raise ValueError(f"CRM_SERVE_WORKERS must be at least 1, not {workers}")
    return workers


def service_tracing() -> dict[str, str]:
    """BentoML's tracing settings for the service: off unless `CRM_TRACE_REQUESTS` is set.

    BentoML wraps every request in an OpenTelemetry span whether or not an exporter is
    configured; with none (our default) the spans go nowhere, yet creating them and wrapping
    every send cost about a tenth of a served scoring request (about 1 ms). Operators who trace set
    `CRM_TRACE_REQUESTS=1` and configure BentoML's exporter (`BENTOML_CONFIG`) as usual.
    Read from the environment alone, like `serve_workers`, for the same reason.
    """
    if os.environ.get("CRM_TRACE_REQUESTS", "").lower() in {"1", "true", "yes"}:
        return {}
    return {"excluded_urls": ".*"}
