"""Serving settings: which data home, database and model registry the service uses."""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_core.settings import Profile, require_server_url


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    profile: Profile = Profile.EMBEDDED
    home: Path = Field(default=Path("var"))
    mlflow_tracking_uri: str | None = None
    batch_size: int = 20_000
    champion_refresh_seconds: float = 30.0

    @model_validator(mode="after")
    def _production_needs_postgresql(self) -> ServingSettings:
        require_server_url(self.profile, self.mlflow_tracking_uri, "CRM_MLFLOW_TRACKING_URI", ("postgresql",))
        return self

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home.resolve() / 'mlflow.db'}"


def serve_workers() -> int:
    """Worker processes for `crm-intel serve`: `CRM_SERVE_WORKERS`, else one.

    One by default until the end-to-end suite and the load benchmark have run on several;
    `CRM_SERVE_WORKERS=2` (at most one per core up to four is the aim) is what lifts the online
    rate.

    Read from the environment alone, because BentoML takes the count when the service module is
    imported, before any settings could be validated. Every worker holds its own models and
    Feast store; the CRM, the registry and the model-page jobs are shared through the database
    and the data home, so any worker can answer any request.
    """
    configured = os.environ.get("CRM_SERVE_WORKERS")
    if configured is None:
        return 1
    try:
        workers = int(configured)
    except ValueError:
        raise ValueError(f"CRM_SERVE_WORKERS must be a whole number of worker processes, not {configured!r}") from None
    if workers < 1:
        raise ValueError(f"CRM_SERVE_WORKERS must be at least 1, not {workers}")
    return workers
