"""CRM_PROFILE=production refuses to fall back to embedded files: every server URL must be given."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest
from pydantic import ValidationError

from crm_core.settings import CoreSettings, HomeSettings, Profile
from features.settings import FeatureSettings
from serving.settings import ServingSettings
from tests.conftest import CLI
from training.settings import TrainingSettings

PG = "postgresql+psycopg://crm@db.internal:5432/crm"


def test_production_needs_every_server_url(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_PROFILE", "production")
    for variable in ("CRM_DATABASE_URL", "CRM_MLFLOW_TRACKING_URI", "CRM_REDIS_URL"):
        monkeypatch.delenv(variable, raising=False)
    for settings, variable in (
        (CoreSettings, "CRM_DATABASE_URL"),
        (TrainingSettings, "CRM_MLFLOW_TRACKING_URI"),
        (ServingSettings, "CRM_MLFLOW_TRACKING_URI"),
        (FeatureSettings, "CRM_REDIS_URL"),
    ):
        with pytest.raises(ValidationError, match=f"CRM_PROFILE=production needs {variable}"):
            settings()


def test_production_refuses_embedded_urls(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CRM_PROFILE", "production")
    monkeypatch.setenv("CRM_DATABASE_URL", "sqlite:///var/crm.db")
    with pytest.raises(ValidationError, match="a postgresql URL, not sqlite"):
        CoreSettings()
    monkeypatch.setenv("CRM_DATABASE_URL", PG)
    monkeypatch.setenv("CRM_MLFLOW_TRACKING_URI", PG.replace("/crm", "/mlflow"))
    monkeypatch.setenv("CRM_REDIS_URL", "rediss://crm-online:secret@cache.internal:6380/2")
    core, features = CoreSettings(), FeatureSettings()
    assert (core.profile, core.resolved_database_url()) == (Profile.PRODUCTION, PG)
    assert TrainingSettings().tracking_uri.endswith("/mlflow")
    assert features.redis_url == core.redis_url == "rediss://crm-online:secret@cache.internal:6380/2", "TLS accepted"
    monkeypatch.setenv("CRM_REDIS_URL", "memcached://cache.internal:11211")
    with pytest.raises(ValidationError, match="a redis or rediss URL, not memcached"):
        FeatureSettings()


def test_the_embedded_default_needs_no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("CRM_PROFILE", "CRM_DATABASE_URL", "CRM_MLFLOW_TRACKING_URI", "CRM_REDIS_URL"):
        monkeypatch.delenv(variable, raising=False)
    assert CoreSettings().resolved_database_url().startswith("sqlite:///")
    assert TrainingSettings().tracking_uri.startswith("sqlite:///")
    assert FeatureSettings().redis_url is None
    assert FeatureSettings().online_path.name == "features.db"


def test_every_package_reads_the_profile_and_home_from_one_base() -> None:
    for settings in (CoreSettings, FeatureSettings, TrainingSettings, ServingSettings):
        assert issubclass(settings, HomeSettings)
        assert {"profile", "home"} <= set(settings.model_fields)
        declared_here = set(vars(settings).get("__annotations__", {}))
        assert not {"profile", "home", "model_config"} & declared_here, f"{settings.__name__} redefines the base"


def test_the_cli_names_every_missing_server_url_at_once_without_a_traceback(tmp_path: Path) -> None:
    env = {
        name: value
        for name, value in os.environ.items()
        if name not in {"CRM_DATABASE_URL", "CRM_MLFLOW_TRACKING_URI", "CRM_REDIS_URL"}
    }
    env |= {"CRM_PROFILE": "production", "CRM_HOME": str(tmp_path / "var"), "CRM_DATABASE_URL": "sqlite:///x.db"}
    done = subprocess.run([*CLI, "db-upgrade"], env=env, capture_output=True, text=True, timeout=120, check=False)
    said = " ".join((done.stdout + done.stderr).split())  # the console wraps long lines
    assert done.returncode == 1
    assert "CRM_DATABASE_URL to be a postgresql URL, not sqlite" in said
    assert "needs CRM_REDIS_URL" in said and "needs CRM_MLFLOW_TRACKING_URI" in said
    assert said.count("CRM_MLFLOW_TRACKING_URI") == 1, "one line per problem, however many packages need it"
    assert "Traceback" not in said and "pydantic" not in said
    assert not (tmp_path / "var").exists(), "nothing is created before the settings are usable"

    env["CRM_PROFILE"] = "staging"
    done = subprocess.run([*CLI, "db-upgrade"], env=env, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 1 and "CRM_PROFILE: Input should be 'embedded' or 'production'" in done.stdout
    assert "Traceback" not in done.stdout + done.stderr
