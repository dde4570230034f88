"""What the registry answers with: one registered version as plain values, and the errors."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from crm_core.errors import CrmError
from features.model_registry import vocabulary as names


class NoChampionError(CrmError, RuntimeError):
    """No model holds the champion alias: nothing to score with until one is trained."""

    def __init__(self, model_name: str) -> None:
        super().__init__(
            f"no champion model for '{model_name}': train one first "
            f"(`crm-intel train {model_name}` or `crm-intel quickstart`)"
        )
        self.model_name = model_name


class ArtifactIntegrityError(CrmError, RuntimeError):
    """A registered model whose files do not match the seal recorded at registration (or that
    has none), or a champion alias the product did not set: refused, because loading it would
    unpickle files nobody vouched for."""

    def __init__(self, model_name: str, version: str, reason: str) -> None:
        super().__init__(f"refusing to load {model_name} v{version}: {reason}")
        self.model_name = model_name
        self.version = version


class NothingToRollBackError(CrmError, RuntimeError):
    """No champion, or none recorded before the current one."""


class PromotionRefusedError(CrmError, RuntimeError):
    """A hand promotion the registry's own record says would make things worse (or change nothing)."""


class UnknownRegisteredModelError(CrmError, KeyError):
    """No model of that name was ever registered."""

    def __init__(self, model_name: str) -> None:
        super().__init__(f"no model named '{model_name}' is registered")
        self.model_name = model_name


@dataclass(frozen=True)
class Rollback:
    """Where the champion alias moved: by hand, or back through its history."""

    model_name: str
    from_version: str
    to_version: str


@dataclass(frozen=True)
class RunRecord:
    """What every training run logs beside its model: the evidence the gate weighed and where
    the data came from. `champion` is (its version, the gated metric, its figure on this run's
    holdout), None when there was no champion to compare with."""

    model_name: str
    requirements: list[str]
    params: Mapping[str, Any]
    holdout_metrics: Mapping[str, float]
    champion: tuple[str, str, float] | None
    data_snapshot: Path
    promotion_reason: str
    other_metrics: Mapping[str, float] = field(default_factory=dict)


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    version: str


@dataclass(frozen=True)
class VersionRecord:
    """One registered version with its run's parameters and metrics and its own tags."""

    model_name: str
    version: str
    run_id: str
    created_at: datetime
    params: dict[str, str]
    metrics: dict[str, float]
    tags: dict[str, str]  # the version's own (verdict, seal, roll-back)
    run_tags: dict[str, str]  # the run's (training set, promotion reason)
    is_champion: bool

    @property
    def number(self) -> int:
        return int(self.version)

    @property
    def holdout(self) -> dict[str, float]:
        """The candidate's figures on its holdout, by metric name."""
        prefix = names.HOLDOUT_PREFIX
        return {key.removeprefix(prefix): value for key, value in self.metrics.items() if key.startswith(prefix)}

    @property
    def champion_holdout(self) -> tuple[str, float] | None:
        """(gated metric, the champion's figure on the same holdout), when a champion was compared."""
        prefix = names.CHAMPION_HOLDOUT_PREFIX
        found = sorted(
            (key.removeprefix(prefix), value) for key, value in self.metrics.items() if key.startswith(prefix)
        )
        return found[0] if found else None

    @property
    def measured_against(self) -> str | None:
        """The champion version this run was compared with on its holdout, if any."""
        return self.params.get(names.CHAMPION_VERSION_PARAM) or None

    @property
    def drift(self) -> list[tuple[str, float]]:
        """(feature, PSI) of the scored population against the training set, worst first."""
        prefix = names.DRIFT_PREFIX
        found = [
            (key.removeprefix(prefix), value)
            for key, value in self.metrics.items()
            if key.startswith(prefix) and key != names.DRIFT_WORST_METRIC
        ]
        return sorted(found, key=lambda pair: -pair[1])

    @property
    def drift_span(self) -> dict[str, float]:
        """Per feature, the PSI it showed over the same span inside the training history."""
        prefix = names.DRIFT_SPAN_PREFIX
        return {key.removeprefix(prefix): value for key, value in self.metrics.items() if key.startswith(prefix)}

    @property
    def worst_drift(self) -> float | None:
        """The largest drift the calendar does not explain (0.0: none)."""
        return self.metrics.get(names.DRIFT_WORST_METRIC)

    @property
    def promoted(self) -> bool:
        return self.tags.get(names.PROMOTED_TAG) == names.TRUE

    @property
    def lost_the_gate(self) -> bool:
        return self.tags.get(names.PROMOTED_TAG) == names.FALSE

    @property
    def rolled_back(self) -> bool:
        return self.tags.get(names.ROLLED_BACK_TAG) == names.TRUE

    @property
    def verdict(self) -> str:
        """The gate's (or a person's) reason, or where a roll-back sent the alias."""
        if self.rolled_back:
            return f"rolled back to v{self.tags.get(names.ROLLED_BACK_TO_TAG, '?')}"
        return self.tags.get(names.REASON_TAG, "")

    @property
    def data_snapshot(self) -> Path | None:
        """The training-set file the run was fitted on (a run tag), if recorded."""
        recorded = self.run_tags.get(names.DATA_SNAPSHOT_TAG)
        return Path(recorded) if recorded else None
