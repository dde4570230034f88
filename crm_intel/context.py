"""Settings and resources shared by the commands, created on demand, never at import."""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

from sqlalchemy import Engine

from crm_core.opening import install_keys, open_crm
from crm_core.settings import CoreSettings, Profile, check_settings
from crm_intel.schedule_settings import ScheduleSettings
from features.catalogue import Catalogue
from features.catalogue_file import load_catalogue
from features.model_registry import ModelRegistry
from features.settings import FeatureSettings
from serving.settings import ServingSettings
from training.settings import TrainingSettings

# Files a crm-intel process creates are its owner's only: the data home holds personal data,
# keys, backups and exports.
OWNER_ONLY_UMASK = 0o077

# Third-party libraries that would otherwise phone home or write outside the data home.
QUIET_THIRD_PARTIES = {
    "FEAST_USAGE": "False",
    "MLFLOW_DISABLE_TELEMETRY": "true",
    "BENTOML_DO_NOT_TRACK": "True",
    "DO_NOT_TRACK": "true",
    # MLflow draws a progress bar per artifact download: seven lines in the job's log each time
    # a model is loaded for scoring or comparison, inside our own progress display.
    "MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR": "false",
}


def quiet_third_parties(home: Path) -> None:
    """No telemetry, no state outside the data home, and no third-party noise on the console."""
    for name, value in QUIET_THIRD_PARTIES.items():
        os.environ.setdefault(name, value)
    os.environ.setdefault("BENTOML_HOME", str(home / "bentoml"))
    logging.getLogger("mlflow").setLevel(logging.WARNING)
    # Our pyfunc wrapper is pickled by design (our own class, loaded only from our own registry);
    # MLflow's per-run reminder about pickling is noise on a user's console.
    logging.getLogger("mlflow.pyfunc").setLevel(logging.ERROR)


@dataclass
class AppContext:
    core: CoreSettings
    features: FeatureSettings
    training: TrainingSettings
    serving: ServingSettings
    schedules: ScheduleSettings = field(default_factory=ScheduleSettings)

    @classmethod
    def from_environment(cls) -> AppContext:
        check_settings(CoreSettings, FeatureSettings, TrainingSettings, ServingSettings, ScheduleSettings)
        context = cls(CoreSettings(), FeatureSettings(), TrainingSettings(), ServingSettings(), ScheduleSettings())
        quiet_third_parties(context.home)
        # Keys first, for every command: besides the CRM's personal fields they seal the audit
        # chain and the model registry's artifacts and champion, which commands that never
        # open the CRM (promote, rollback, status) read and write too.
        install_keys(context.core)
        return context

    @classmethod
    def scratch(cls, home: Path) -> AppContext:
        """A throwaway data home on the embedded default with keys of its own, whatever the
        environment names: a public data set evaluated there never lands in a live CRM, its
        servers, its registry or under its keys. Its keys become the process's keyring."""
        context = cls(
            CoreSettings(
                profile=Profile.EMBEDDED, home=home, database_url=None, redis_url=None, field_keys=None, lookup_key=None
            ),
            FeatureSettings(profile=Profile.EMBEDDED, home=home, redis_url=None),
            TrainingSettings(profile=Profile.EMBEDDED, home=home, mlflow_tracking_uri=None),
            ServingSettings(profile=Profile.EMBEDDED, home=home, mlflow_tracking_uri=None),
        )
        install_keys(context.core)
        return context

    @property
    def home(self) -> Path:
        return self.core.home.resolve()

    @property
    def demo_logins_path(self) -> Path:
        return self.home / "demo_logins.json"

    @cached_property
    def catalogue(self) -> Catalogue:
        """The models of this data home: the built-ins and those its `models.toml` declares."""
        return load_catalogue(self.home)

    @cached_property
    def registry(self) -> ModelRegistry:
        """The model registry: training's tracking URI and artifact folder, this home's seal key."""
        return ModelRegistry(self.training.tracking_uri, artifact_root=self.training.artifact_root)

    @cached_property
    def engine(self) -> Engine:
        """The CRM database, created and migrated to the latest schema on first use."""
        return open_crm(self.core)
