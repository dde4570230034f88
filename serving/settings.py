"""Serving settings: which data home, database and model registry the service uses."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ServingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    home: Path = Field(default=Path("var"))
    mlflow_tracking_uri: str | None = None
    batch_size: int = 20_000
    champion_refresh_seconds: float = 30.0

    @property
    def tracking_uri(self) -> str:
        return self.mlflow_tracking_uri or f"sqlite:///{self.home.resolve() / 'mlflow.db'}"
