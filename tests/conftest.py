"""Shared fixtures: databases on SQLite and PostgreSQL, data homes, generated CRMs.

PostgreSQL tests run against the server at CRM_TEST_POSTGRES_URL (default: the local `test`
database), each in a fresh database of its own. Where the server is unreachable they are
skipped, except in CI (CI=true), where that fails the run instead of hiding the tests.
"""

from __future__ import annotations

import os
import subprocess
import sys
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import make_url

from benchmarks.server import production_profile
from crm_core.auth import passwords
from crm_core.bulk_load import load_tables
from crm_core.db import make_engine
from crm_core.demo import DemoConfig, generate
from crm_core.exports import export_crm
from crm_core.migrate import upgrade
from crm_core.protection import keyring
from crm_core.protection.keyring import FieldKeyring
from crm_core.settings import CoreSettings
from crm_intel.context import QUIET_THIRD_PARTIES, AppContext
from features.pipeline import build_and_publish
from features.settings import FeatureSettings
from serving.settings import ServingSettings
from training.pipeline import RunResult
from training.settings import TrainingSettings

for _name, _value in QUIET_THIRD_PARTIES.items():
    os.environ.setdefault(_name, _value)

CLI = [sys.executable, "-m", "crm_intel.cli"]

POSTGRES_URL = os.environ.get("CRM_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
IN_CI = os.environ.get("CI", "").lower() == "true"
SHARED_DATASETS = Path(os.environ.get("CRM_DATASETS_DIR", Path(__file__).resolve().parents[2] / "shared" / "datasets"))


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Modules holding slow tests run first (in their own order): with parallel workers taking
    whole modules, the long drills then start at once instead of finishing alone at the end,
    and the many quick modules fill in behind them."""
    slow = {item.nodeid.split("::")[0] for item in items if item.get_closest_marker("slow")}
    items.sort(key=lambda item: item.nodeid.split("::")[0] not in slow)


@pytest.fixture(scope="session")
def shared_datasets() -> Path:
    """The public data sets beside the checkout (read-only evaluation inputs kept outside the
    repository): a checkout without them skips the tests that read them, CI fails instead."""
    if not SHARED_DATASETS.is_dir():
        message = f"shared data sets not at {SHARED_DATASETS} (set CRM_DATASETS_DIR)"
        if IN_CI:
            pytest.fail(message, pytrace=False)
        pytest.skip(message)
    return SHARED_DATASETS


@pytest.fixture(scope="session", autouse=True)
def field_keys() -> FieldKeyring:
    """One generated keyring for the in-process CRMs of the run (subprocesses use their home's)."""
    keys = FieldKeyring.generate()
    keyring.install(keys)
    return keys


@pytest.fixture(autouse=True)
def run_keyring_in_place(field_keys: FieldKeyring) -> None:
    """Every test starts with the run's keyring installed.

    Opening a CRM home of its own, rotating keys or running the benchmarks in process installs
    another keyring process-wide; without this, a later test in the same worker reads the
    session's CRMs with the wrong keys, and which tests share a worker changes with the run's
    order and worker count (CI saw it: the benchmarks' scratch keys, then a shadow-scoring test).
    """
    keyring.install(field_keys)


@pytest.fixture(scope="session", autouse=True)
def production_password_hasher() -> Iterator[PasswordHasher]:
    """Argon2id at its lowest cost for the in-process CRMs of the run, yielding the product's own.

    At the product's cost (64 MiB, 3 passes) a hash and a check take 0.3 s, and every fixture
    that signs in one user per role paid 2 s for it, minutes over the suite. The algorithm, the
    stored format and the checks are the same at any cost; servers and CLIs the tests start as
    processes keep the product's cost, and a test checks that cost is what the product uses.
    """
    production = passwords._hasher
    passwords._hasher = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
    yield production
    passwords._hasher = production


@pytest.fixture(scope="session")
def postgres_admin() -> Iterator[Engine]:
    engine = create_engine(POSTGRES_URL, isolation_level="AUTOCOMMIT")
    try:
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
    except Exception as error:
        engine.dispose()
        if IN_CI:
            pytest.fail(f"PostgreSQL at {POSTGRES_URL} is unreachable in CI: {error}", pytrace=False)
        pytest.skip(f"PostgreSQL at {POSTGRES_URL} is unreachable: {error}")
    yield engine
    engine.dispose()


@pytest.fixture
def postgres_url(postgres_admin: Engine) -> Iterator[str]:
    name = f"crm_test_{uuid.uuid4().hex[:12]}"
    with postgres_admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    yield make_url(POSTGRES_URL).set(database=name).render_as_string(hide_password=False)
    with postgres_admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def _redis_databases_of_this_worker() -> tuple[int, int]:
    """Three Redis databases this test process owns: 13-15 for the first (or only) one, 10-12
    for the second pytest-xdist worker, and so on down, so parallel workers never flush each
    other's data. The first serves production-profile homes, the second the `redis_url`
    fixture, the third Feast's side beside it (`next_redis_database`)."""
    worker = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw"))
    first = 13 - 3 * worker
    if first < 0:
        raise RuntimeError(f"Redis has 16 databases: not enough for pytest-xdist worker {worker}")
    return first, first + 1


PRODUCTION_REDIS_DATABASE, FIXTURE_REDIS_DATABASE = _redis_databases_of_this_worker()
REDIS_URL = os.environ.get("CRM_TEST_REDIS_URL", "redis://127.0.0.1:6379").rstrip("/") + f"/{FIXTURE_REDIS_DATABASE}"


@contextmanager
def production_services(admin: Engine, redis_database: int) -> Iterator[dict[str, str]]:
    """The production profile's servers for one data home: a new PostgreSQL database each for
    the CRM and MLflow, and an emptied Redis database; dropped and emptied afterwards."""
    redis_url = REDIS_URL.rsplit("/", 1)[0] + f"/{redis_database}"
    with production_profile(admin, POSTGRES_URL, redis_url) as services:
        yield services


@pytest.fixture
def redis_url() -> Iterator[str]:
    """A Redis database of its own for the test (emptied before and after); fails in CI when
    Redis is unreachable, skips elsewhere."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.RedisError as error:
        client.close()
        if IN_CI:
            pytest.fail(f"Redis at {REDIS_URL} is unreachable in CI: {error}", pytrace=False)
        pytest.skip(f"Redis at {REDIS_URL} is unreachable: {error}")
    client.flushdb()
    yield REDIS_URL
    client.flushdb()
    client.close()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'crm.db'}"
    return str(request.getfixturevalue("postgres_url"))


@pytest.fixture
def engine(database_url: str) -> Iterator[Engine]:
    """A migrated, empty CRM database: once on SQLite, once on PostgreSQL."""
    engine = make_engine(database_url)
    upgrade(engine)
    yield engine
    engine.dispose()


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[Engine]:
    engine = make_engine(f"sqlite:///{tmp_path / 'crm.db'}")
    upgrade(engine)
    yield engine
    engine.dispose()


@dataclass(frozen=True)
class DataHome:
    """A data home on disk with the env a CLI or server started on it needs; `services` holds
    the production profile's server URLs (empty: the embedded default)."""

    path: Path
    own_keys: bool = False  # True: the CLI keeps its own key file, as on a user's machine
    services: dict[str, str] = field(default_factory=dict)

    @property
    def database_url(self) -> str:
        return self.services.get("CRM_DATABASE_URL") or f"sqlite:///{self.path / 'crm.db'}"

    @property
    def tracking_uri(self) -> str:
        return self.services.get("CRM_MLFLOW_TRACKING_URI") or f"sqlite:///{self.path / 'mlflow.db'}"

    def env(self) -> dict[str, str]:
        """The run's field keys are passed on, so this process can read what the CLI wrote."""
        keys = keyring.active()
        base = dict(
            os.environ,
            CRM_HOME=str(self.path),
            BENTOML_HOME=str(self.path / "bentoml"),
            **QUIET_SCHEDULES,
            **self.services,
        )
        if self.own_keys:
            return base
        return dict(base, CRM_FIELD_KEYS=",".join(keys.encryption_keys), CRM_LOOKUP_KEY=keys.lookup_key)

    def cli(
        self, *args: str, cwd: Path | None = None, user_home: Path | None = None
    ) -> subprocess.CompletedProcess[str]:
        """Run `crm-intel ARGS` on this home as a user would, capturing its output; with
        `user_home`, the process sees that folder as $HOME (to prove nothing lands there)."""
        env = self.env() if user_home is None else dict(self.env(), HOME=str(user_home))
        return subprocess.run([*CLI, *args], env=env, cwd=cwd, capture_output=True, text=True, timeout=900, check=False)


@pytest.fixture
def data_home(tmp_path: Path) -> DataHome:
    home = tmp_path / "var"
    home.mkdir()
    return DataHome(home)


def app_context(home: Path, keys: FieldKeyring) -> AppContext:
    """Settings for every package pointed at one data home, as the CLI would build them."""
    return AppContext(
        core=CoreSettings(home=home, field_keys=",".join(keys.encryption_keys), lookup_key=keys.lookup_key),
        features=FeatureSettings(home=home),
        training=TrainingSettings(home=home),
        serving=ServingSettings(home=home),
    )


# A served home's schedules exist (the Jobs page lists them) but come due only at New Year's
# midnight: a run started by the clock never lands in the middle of a test.
QUIET_SCHEDULES = {"CRM_SCHEDULE_REFRESH": "0 0 1 1 *", "CRM_SCHEDULE_RETRAIN": "0 0 1 1 *"}

GENERATED_CONTACTS = 2_500
GENERATED_SEED = 11


@pytest.fixture(scope="session")
def generated_crm(tmp_path_factory: pytest.TempPathFactory, field_keys: FieldKeyring) -> AppContext:
    """A generated CRM with features built and published to Feast; no model yet."""
    ctx = app_context(tmp_path_factory.mktemp("generated") / "var", field_keys)
    load_tables(ctx.engine, generate(DemoConfig(contacts=GENERATED_CONTACTS, seed=GENERATED_SEED)))
    build_and_publish(export_crm(ctx.engine), ctx.features)
    return ctx


def own_copy(generated: AppContext, home: Path) -> AppContext:
    """The generated CRM's database copied under `home`, with a registry and serving state of
    its own there: whatever a test writes stays its own, whichever tests ran before it. The
    feature store is shared, read-only."""
    from crm_core.backup import copy_sqlite, sqlite_path

    copy_sqlite(sqlite_path(generated.core.resolved_database_url()), home / "crm.db")
    return replace(
        generated,
        core=generated.core.model_copy(update={"database_url": f"sqlite:///{home / 'crm.db'}"}),
        training=TrainingSettings(home=home),
        serving=ServingSettings(home=home),
    )


@pytest.fixture
def trained_crm(generated_crm: AppContext, tmp_path: Path) -> tuple[AppContext, RunResult]:
    """The generated CRM copied for this test, with a churn champion trained into its own registry."""
    from training.jobs import train

    ctx = own_copy(generated_crm, tmp_path / "own")
    return ctx, train("churn", export_crm(ctx.engine), ctx.features, ctx.training)
