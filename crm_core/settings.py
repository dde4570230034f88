"""Settings for the system of record: the one place crm_core reads the environment."""

from __future__ import annotations

import enum
from pathlib import Path
from typing import ClassVar, Self

from pydantic import Field, ValidationError, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from crm_core.errors import CrmError


class Profile(enum.StrEnum):
    """`embedded`: everything in files under the data home, no server needed (the default).
    `production`: the CRM and the model registry on PostgreSQL, the online store on Redis; each
    package's settings refuse to start without its server URL rather than fall back to a file."""

    EMBEDDED = "embedded"
    PRODUCTION = "production"


def require_server_url(profile: Profile, url: str | None, variable: str, schemes: tuple[str, ...]) -> None:
    """In production, `url` must be set and use one of `schemes` (e.g. postgresql, redis)."""
    problem = server_url_problem(profile, url, variable, schemes)
    if problem:
        raise ValueError(problem)


def server_url_problem(profile: Profile, url: str | None, variable: str, schemes: tuple[str, ...]) -> str | None:
    """What is wrong with a server URL the production profile needs, or None."""
    if profile is not Profile.PRODUCTION:
        return None
    if not url:
        return f"CRM_PROFILE=production needs {variable} (a {' or '.join(schemes)} URL)"
    scheme = url.split(":", 1)[0].split("+", 1)[0]
    if scheme not in schemes:
        return f"CRM_PROFILE=production needs {variable} to be a {' or '.join(schemes)} URL, not {scheme}"
    return None


class SettingsError(CrmError, ValueError):
    """The environment cannot start crm-intel; the message lists every problem, one per line."""

    def __init__(self, problems: list[str]) -> None:
        unique = list(dict.fromkeys(problems))
        super().__init__("the settings are not usable:\n" + "\n".join(f"  - {problem}" for problem in unique))
        self.problems = unique


class HomeSettings(BaseSettings):
    """What every package's settings share, defined once: the profile and the one data home
    (``CRM_PROFILE``, ``CRM_HOME``, ``./var`` by default), read from the ``CRM_`` environment.

    A subclass lists the server URLs the production profile needs in `production_urls`
    (field, variable, accepted schemes); they are checked together, so a production profile
    missing three URLs is told all three.
    """

    model_config = SettingsConfigDict(env_prefix="CRM_", extra="ignore")
    production_urls: ClassVar[tuple[tuple[str, str, tuple[str, ...]], ...]] = ()

    profile: Profile = Profile.EMBEDDED
    home: Path = Field(default=Path("var"))

    @model_validator(mode="after")
    def _production_needs_its_servers(self) -> Self:
        problems = [
            problem
            for field, variable, schemes in self.production_urls
            if (problem := server_url_problem(self.profile, getattr(self, field), variable, schemes))
        ]
        if problems:
            raise ValueError("; ".join(problems))
        return self


def _problems(error: ValidationError) -> list[str]:
    """A settings error as a person reads it: the variable and what is wrong, no traceback."""
    found = []
    for problem in error.errors():
        message = str(problem["msg"]).removeprefix("Value error, ")
        field = ".".join(str(part) for part in problem["loc"])
        found.extend(message.split("; ") if not field else [f"CRM_{field.upper()}: {message}"])
    return found


def check_settings(*kinds: type[BaseSettings]) -> None:
    """Validate every package's settings from the environment together before any is used:
    SettingsError names each problem of each of them at once."""
    problems: list[str] = []
    for kind in kinds:
        try:
            kind()
        except ValidationError as error:
            problems.extend(_problems(error))
    if problems:
        raise SettingsError(problems)


def embedded_database_url(home: Path) -> str:
    """The embedded default: one SQLite file inside the data home."""
    return f"sqlite:///{home.resolve() / 'crm.db'}"


class CoreSettings(HomeSettings):
    """Where CRM state lives. The database defaults to an embedded SQLite file inside the data
    home, so a fresh clone needs no server."""

    production_urls = (("database_url", "CRM_DATABASE_URL", ("postgresql",)),)

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

    def resolved_database_url(self) -> str:
        return self.database_url or embedded_database_url(self.home)

    @property
    def queue_file(self) -> Path:
        return self.home.resolve() / "queue.db"

    @property
    def key_file(self) -> Path:
        return self.home.resolve() / "keys" / "field_keys.json"
