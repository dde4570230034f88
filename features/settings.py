"""Where feature data and the Feast store live, under the one data home."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

SNAPSHOT_FILE = "offline/contact_features.parquet"


class FeatureSettings(BaseSettings):
    """`CRM_HOME` places everything; snapshots are taken every `snapshot_step_days`."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    home: Path = Field(default=Path("var"))
    snapshot_count: int = 12
    snapshot_step_days: int = 30

    @property
    def feast_dir(self) -> Path:
        return self.home.resolve() / "feast"

    @property
    def snapshot_path(self) -> Path:
        return self.feast_dir / SNAPSHOT_FILE
