"""Loading a model's champion from the registry, once, with what scoring needs to know.

Models are registered as pyfunc wrappers around a calibrated model; scoring unwraps it, so it
gets calibrated probabilities and the per-feature contributions behind each one.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, Protocol, TypeVar

from features.model_registry import ModelRegistry, VersionRecord
from features.model_registry.vocabulary import BAND_HIGH_PARAM, BAND_MEDIUM_PARAM, FEATURE_SERVICE_PARAM
from models.bands import Bands
from models.calibration import CalibratedModel


@dataclass(frozen=True)
class Champion:
    model_name: str
    version: str
    run_id: str
    feature_service: str
    feature_names: list[str]
    bands: Bands
    model: CalibratedModel


def load_champion(registry: ModelRegistry, model_name: str) -> Champion:
    """The verified champion; NoChampionError if none, ArtifactIntegrityError if tampered with."""
    return _loaded(registry, registry.verified_champion(model_name))


def load_challenger(registry: ModelRegistry, model_name: str) -> Champion | None:
    """The version that lost the gate after the champion, to score in the shadows, if any."""
    challenger = registry.challenger(model_name)
    return None if challenger is None else _loaded(registry, challenger)


def _loaded(registry: ModelRegistry, record: VersionRecord) -> Champion:
    model = registry.load(record.model_name, record.version, CalibratedModel)
    return Champion(
        model_name=record.model_name,
        version=record.version,
        run_id=record.run_id,
        feature_service=record.params[FEATURE_SERVICE_PARAM],
        feature_names=list(model.feature_names),
        bands=Bands(medium=float(record.params[BAND_MEDIUM_PARAM]), high=float(record.params[BAND_HIGH_PARAM])),
        model=model,
    )


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
        registry: ModelRegistry,
        loader: Callable[[ModelRegistry, str], Loaded],
        *,
        refresh_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.registry = registry
        self.loader = loader
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._loaded: dict[str, tuple[Loaded, float]] = {}

    def get(self, model_name: str) -> Loaded:
        now = self._clock()
        cached = self._loaded.get(model_name)
        if cached is not None and now - cached[1] < self.refresh_seconds:
            return cached[0]
        if cached is not None and self.registry.champion_version(model_name) == cached[0].version:
            self._loaded[model_name] = (cached[0], now)
            return cached[0]
        champion = self.loader(self.registry, model_name)  # raises NoChampionError
        self._loaded[model_name] = (champion, now)
        return champion
