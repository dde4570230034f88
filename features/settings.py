"""Where feature data and the Feast store live, under the one data home."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_core.settings import Profile, require_server_url

SNAPSHOT_FILE = "offline/contact_features.parquet"


class FeatureSettings(BaseSettings):
    """`CRM_HOME` places everything; snapshots are taken every `snapshot_step_days`."""

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    profile: Profile = Profile.EMBEDDED
    home: Path = Field(default=Path("var"))
    snapshot_count: int = 12
    snapshot_step_days: int = 30
    # The online store: Redis at this URL (redis://host:port/db), else SQLite under the home.
    redis_url: str | None = None

    @model_validator(mode="after")
    def _production_needs_redis(self) -> FeatureSettings:
        require_server_url(self.profile, self.redis_url, "CRM_REDIS_URL", ("redis",))
        return self

    @property
    def redis_connection_string(self) -> str | None:
        """Feast's own format for the same address: host:port,db=N."""
        if not self.redis_url:
            return None
        parsed = urlparse(self.redis_url)
        database = parsed.path.strip("/") or "0"
        options = f",password={parsed.password}" if parsed.password else ""
        return f"{parsed.hostname or '127.0.0.1'}:{parsed.port or 6379},db={database}{options}"

    @property
    def feast_dir(self) -> Path:
        return self.home.resolve() / "feast"

    @property
    def snapshot_path(self) -> Path:
        return self.feast_dir / SNAPSHOT_FILE
