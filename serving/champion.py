"""Loading `<model>@champion` from the MLflow registry, once, with what scoring needs to know.

Models are registered as pyfunc wrappers around a calibrated model; scoring unwraps it, so it
gets calibrated probabilities and the per-feature contributions behind each one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Protocol, TypeVar

from crm_core.errors import CrmError
from models.bands import Bands
from models.calibration import CalibratedModel

CHAMPION_ALIAS = "champion"


class NoChampionError(CrmError, RuntimeError):
    """No model holds the champion alias: nothing to score with until one is trained."""

    def __init__(self, model_name: str) -> None:
        super().__init__(
            f"no champion model for '{model_name}': train one first "
            f"(`crm-intel train {model_name}` or `crm-intel quickstart`)"
        )
        self.model_name = model_name


@dataclass(frozen=True)
class Champion:
    model_name: str
    version: str
    run_id: str
    feature_service: str
    feature_names: list[str]
    bands: Bands
    model: CalibratedModel


def prepare_registry(tracking_uri: str) -> None:
    """Create or upgrade the registry's tables once, before the server's workers start.

    MLflow builds a SQL store's tables on first open. Two workers opening a new registry at the
    same moment both ran its migrations and one died at start ("table _alembic_tmp_experiments
    already exists"), so a server started before any model was trained came up half.
    """
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    client.search_experiments(max_results=1)
    client.search_registered_models(max_results=1)


def load_champion(tracking_uri: str, model_name: str) -> Champion:
    from mlflow import MlflowClient

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    version = champion_entry(client, model_name)
    return _load_version(client, tracking_uri, model_name, version)


def champion_entry(client: Any, model_name: str) -> Any:
    """The model version the champion alias names, after checking the product put it there.

    An alias moved outside crm-intel, or removed while crm-intel had sealed one, is refused with
    ArtifactIntegrityError (the server answers 503 saying so); none ever set is NoChampionError.
    """
    from mlflow.exceptions import MlflowException

    from crm_core.protection.keyring import model_seal_key
    from models.artifacts import ArtifactIntegrityError, sealed_champion, verify_champion

    try:
        version = client.get_model_version_by_alias(model_name, CHAMPION_ALIAS)
    except MlflowException as error:
        made = sealed_champion(client, model_name)
        if made is not None:
            raise ArtifactIntegrityError(
                model_name, made, "crm-intel made it champion, but the alias was removed outside crm-intel"
            ) from error
        raise NoChampionError(model_name) from error
    verify_champion(client, model_name, str(version.version), model_seal_key())
    return version


def load_challenger(tracking_uri: str, model_name: str) -> Champion | None:
    """The newest version registered after the champion and not promoted (nor rolled back):
    the candidate that lost the gate, scored in the shadows to see how it would have done."""
    from mlflow import MlflowClient

    current = champion_version(tracking_uri, model_name)
    if current is None:
        return None
    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    newer = [
        version
        for version in client.search_model_versions(f"name='{model_name}'")
        if int(version.version) > int(current)
        and version.tags.get("promoted") == "false"
        and version.tags.get("rolled_back") != "true"
    ]
    if not newer:
        return None
    return _load_version(client, tracking_uri, model_name, max(newer, key=lambda version: int(version.version)))


def _load_version(client: Any, tracking_uri: str, model_name: str, version: Any) -> Champion:
    from crm_core.protection.keyring import model_seal_key
    from models.artifacts import load_verified
    from models.pyfunc import unwrap

    if version.run_id is None:
        raise NoChampionError(model_name)
    params = client.get_run(version.run_id).data.params
    model = unwrap(load_verified(client, tracking_uri, model_name, str(version.version), model_seal_key()))
    return Champion(
        model_name=model_name,
        version=str(version.version),
        run_id=str(version.run_id),
        feature_service=params["feature_service"],
        feature_names=list(model.feature_names),
        bands=Bands(medium=float(params["band_medium"]), high=float(params["band_high"])),
        model=model,
    )


def champion_version(tracking_uri: str, model_name: str) -> str | None:
    """The version the alias points at now, or None; a single registry lookup."""
    from mlflow import MlflowClient
    from mlflow.exceptions import MlflowException

    client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
    try:
        return str(client.get_model_version_by_alias(model_name, CHAMPION_ALIAS).version)
    except MlflowException:
        return None


class Versioned(Protocol):
    @property
    def version(self) -> str: ...


Loaded = TypeVar("Loaded", bound=Versioned)


class ChampionCache(Generic[Loaded]):
    """Champions loaded once and kept, re-checking the alias at most every `refresh_seconds`.

    A promotion (or rollback) therefore reaches a running server within that interval without
    a restart, and a request between checks costs no registry call at all. `loader` turns a
    registry entry into what serving holds (a scoring champion, a recommender).
    """

    def __init__(
        self,
        tracking_uri: str,
        loader: Callable[[str, str], Loaded],
        *,
        refresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.loader = loader
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._loaded: dict[str, tuple[Loaded, float]] = {}

    def get(self, model_name: str) -> Loaded:
        now = self._clock()
        cached = self._loaded.get(model_name)
        if cached is not None and now - cached[1] < self.refresh_seconds:
            return cached[0]
        if cached is not None and champion_version(self.tracking_uri, model_name) == cached[0].version:
            self._loaded[model_name] = (cached[0], now)
            return cached[0]
        champion = self.loader(self.tracking_uri, model_name)  # raises NoChampionError
        self._loaded[model_name] = (champion, now)
        return champion
