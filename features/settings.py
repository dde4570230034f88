"""Where feature data and the Feast store live, under the one data home."""

from __future__ import annotations

from pathlib import Path

from crm_core.settings import HomeSettings

SNAPSHOT_FILE = "offline/contact_features.parquet"
POPULATION_FILE = "offline/model_populations.parquet"
REGISTRY_FILE = "registry.db"  # Feast's registry, under the feast folder


class FeatureSettings(HomeSettings):
    """`CRM_HOME` places everything; snapshots are taken every `snapshot_step_days`."""

    production_urls = (("redis_url", "CRM_REDIS_URL", ("redis", "rediss")),)

    snapshot_count: int = 12
    snapshot_step_days: int = 30
    # The online store: Redis at this URL as redis-py reads it (redis:// or rediss:// for TLS,
    # an ACL user and password, /db), else a SQLite file under the home.
    redis_url: str | None = None

    @property
    def online_path(self) -> Path:
        """The embedded online store (ours, see `features.online`)."""
        return self.home.resolve() / "online" / "features.db"

    @property
    def feast_dir(self) -> Path:
        return self.home.resolve() / "feast"

    @property
    def registry_path(self) -> Path:
        """Feast's registry of this home's definitions."""
        return self.feast_dir / REGISTRY_FILE

    @property
    def snapshot_path(self) -> Path:
        return self.feast_dir / SNAPSHOT_FILE

    @property
    def population_path(self) -> Path:
        """Each model's population at the newest snapshot (`features.populations`)."""
        return self.feast_dir / POPULATION_FILE
