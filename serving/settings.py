"""Serving settings: which data home, database and model registry the service uses."""

from __future__ import annotations

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
