"""Where feature data and the Feast store live, under the one data home."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from crm_core.settings import HomeSettings

SNAPSHOT_FILE = "offline/contact_features.parquet"


class FeatureSettings(HomeSettings):
    """`CRM_HOME` places everything; snapshots are taken every `snapshot_step_days`."""

    production_urls = (("redis_url", "CRM_REDIS_URL", ("redis",)),)

    snapshot_count: int = 12
    snapshot_step_days: int = 30
    # The online store: Redis at this URL (redis://host:port/db), else SQLite under the home.
    redis_url: str | None = None

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
