"""Settings for the system of record: the one place crm_core reads the environment."""

from __future__ import annotations

import enum
from pathlib import Path

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict


class Profile(enum.StrEnum):
    """`embedded`: everything in files under the data home, no server needed (the default).
    `production`: the CRM and the model registry on PostgreSQL, the online store on Redis; each
    package's settings refuse to start without its server URL rather than fall back to a file."""

    EMBEDDED = "embedded"
    PRODUCTION = "production"


def require_server_url(profile: Profile, url: str | None, variable: str, schemes: tuple[str, ...]) -> None:
    """In production, `url` must be set and use one of `schemes` (e.g. postgresql, redis)."""
    if profile is not Profile.PRODUCTION:
        return
    if not url:
        raise ValueError(f"CRM_PROFILE=production needs {variable} (a {' or '.join(schemes)} URL)")
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in schemes:
        raise ValueError(f"CRM_PROFILE=production needs {variable} to be a {' or '.join(schemes)} URL, not {scheme}")


def embedded_database_url(home: Path) -> str:
    """The embedded default: one SQLite file inside the data home."""
    return f"sqlite:///{home.resolve() / 'crm.db'}"


class CoreSettings(BaseSettings):
    """Where CRM state lives.

    `home` is the single data home for every package (``CRM_HOME``, ``./var`` by default);
    the database defaults to an embedded SQLite file inside it so a fresh clone needs no server.
    """

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")

    profile: Profile = Profile.EMBEDDED
    home: Path = Field(default=Path("var"))
    database_url: str | None = None
    session_hours: float = 12.0
    login_max_failures: int = 5
    login_window_minutes: float = 15.0
    # Failed sign-ins one client address may make per window, across all accounts.
    login_client_max_failures: int = 50
    # The longest any one query of a web page or API request may run before the database stops
    # it (the request then answers 503); batch jobs are not bound by it.
    request_statement_timeout_seconds: float = Field(default=15.0, gt=0, le=600)
    # Integration tokens must expire; this is the furthest ahead a caller may set it.
    token_max_days: int = Field(default=365, ge=1, le=3650)
    # Browser sessions: set CRM_SECURE_COOKIES=true wherever the pages are served over HTTPS
    # (off by default only because the embedded default serves plain HTTP on 127.0.0.1).
    secure_cookies: bool = False
    # Field encryption: comma-separated keys (first encrypts, all decrypt) and the lookup-hash
    # key. Unset, the embedded default keeps generated keys in <home>/keys/field_keys.json.
    field_keys: str | None = None
    lookup_key: str | None = None
    # The job queue: on Redis at this URL (the one the online store uses), else a SQLite file
    # in the data home.
    redis_url: str | None = None

    @model_validator(mode="after")
    def _production_needs_postgresql(self) -> CoreSettings:
        require_server_url(self.profile, self.database_url, "CRM_DATABASE_URL", ("postgresql",))
        return self

    def resolved_database_url(self) -> str:
        return self.database_url or embedded_database_url(self.home)

    @property
    def queue_file(self) -> Path:
        return self.home.resolve() / "queue.db"

    @property
    def key_file(self) -> Path:
        return self.home.resolve() / "keys" / "field_keys.json"
