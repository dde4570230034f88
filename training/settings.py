"""Where training state lives: the MLflow backend and artifacts under the data home."""

from __future__ import annotations

from pathlib import Path

from crm_core.settings import HomeSettings


class TrainingSettings(HomeSettings):
    production_urls = (("mlflow_tracking_uri", "CRM_MLFLOW_TRACKING_URI", ("postgresql",)),)

    mlflow_tracking_uri: str | None = None

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
