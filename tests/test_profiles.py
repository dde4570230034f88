"""CRM_PROFILE=production refuses to fall back to embedded files: every server URL must be given."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from crm_core.settings import CoreSettings, Profile
from features.settings import FeatureSettings
from serving.settings import ServingSettings
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
    monkeypatch.setenv("CRM_REDIS_URL", "redis://cache.internal:6380/2")
    core, features = CoreSettings(), FeatureSettings()
    assert (core.profile, core.resolved_database_url()) == (Profile.PRODUCTION, PG)
    assert TrainingSettings().tracking_uri.endswith("/mlflow")
    assert features.redis_connection_string == "cache.internal:6380,db=2"


def test_the_embedded_default_needs_no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    for variable in ("CRM_PROFILE", "CRM_DATABASE_URL", "CRM_MLFLOW_TRACKING_URI", "CRM_REDIS_URL"):
        monkeypatch.delenv(variable, raising=False)
    assert CoreSettings().resolved_database_url().startswith("sqlite:///")
    assert TrainingSettings().tracking_uri.startswith("sqlite:///")
    assert FeatureSettings().redis_connection_string is None
