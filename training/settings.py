"""Where training state lives: the MLflow backend and artifacts under the data home."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_core.settings import Profile, require_server_url


class TrainingSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    profile: Profile = Profile.EMBEDDED
    home: Path = Field(default=Path("var"))
    mlflow_tracking_uri: str | None = None

    @model_validator(mode="after")
    def _production_needs_postgresql(self) -> TrainingSettings:
        require_server_url(self.profile, self.mlflow_tracking_uri, "CRM_MLFLOW_TRACKING_URI", ("postgresql",))
        return self

    @property
    def tracking_uri(self) -> str:
        # Always explicit: with no URI MLflow silently creates mlflow.db in the working dir.
        return self.mlflow_tracking_uri or f"sqlite:///{self.home.resolve() / 'mlflow.db'}"

    @property
    def artifact_root(self) -> Path:
        return self.home.resolve() / "mlartifacts"

    @property
    def training_sets_dir(self) -> Path:
        return self.home.resolve() / "training_sets"
