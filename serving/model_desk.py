"""What the data scientists' model pages show, read from the registry: every version with its
holdout metrics and the gate's verdict, the champion and its challenger side by side, their
holdout curves, and the drift of the scored population from the champion's training set.

Read-only: changing the champion is a job the worker runs (see `model_jobs`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from features.model_registry import ModelRegistry, VersionRecord
from features.model_registry.records import UnknownRegisteredModelError
from features.schema import GROWS_WITH_TIME
from models.curves import CURVES_ARTIFACT
from models.drift import FeatureDrift

HEADLINE_METRICS = ("roc_auc", "pr_auc", "ece", "brier", "lift_top_decile", "precision_at_10", "ndcg_at_10")


def headline(version: VersionRecord) -> list[tuple[str, float]]:
    """The version's holdout figures a page shows first, in a fixed order."""
    holdout = version.holdout
    return [(name, holdout[name]) for name in HEADLINE_METRICS if name in holdout]


@dataclass(frozen=True)
class ModelView:
    name: str
    versions: list[VersionRecord]
    champion: VersionRecord | None
    challenger: VersionRecord | None
    history: list[str]
    curves: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> curves
    # The champion's scores checked against what happened (`training.outcome_check`), if run.
    outcomes: dict[str, Any] | None = None

    @property
    def drift(self) -> list[FeatureDrift]:
        """The champion's scored population per feature, worst first, each with what it moved
        over the same span of the training history."""
        if self.champion is None:
            return []
        spans = self.champion.drift_span
        return [
            FeatureDrift(feature, psi, spans.get(feature, 0.0), feature in GROWS_WITH_TIME)
            for feature, psi in self.champion.drift
        ]

    @property
    def primary_metric(self) -> str | None:
        """The gated metric (what runs compared with the champion), else the first headline one."""
        for version in self.versions:
            if version.champion_holdout is not None:
                return version.champion_holdout[0]
        head = headline(self.versions[0]) if self.versions else []
        return head[0][0] if head else None


@dataclass(frozen=True)
class ModelSummary:
    name: str
    versions: int
    champion: str | None
    primary: tuple[str, float] | None
    worst_drift: float | None


class ModelDesk:
    """Registry reads for the pages; run artifacts are immutable, so curves are cached by run."""

    def __init__(self, registry: ModelRegistry) -> None:
        self.registry = registry
        self._curves: dict[str, dict[str, Any] | None] = {}

    def names(self) -> list[str]:
        return self.registry.names()

    def summaries(self) -> list[ModelSummary]:
        found = []
        for name in self.names():
            view = self.model(name, with_curves=False)
            champion, primary = view.champion, view.primary_metric
            found.append(
                ModelSummary(
                    name=name,
                    versions=len(view.versions),
                    champion=champion.version if champion else None,
                    primary=(primary, champion.holdout[primary])
                    if champion and primary and primary in champion.holdout
                    else None,
                    worst_drift=champion.worst_drift if champion else None,
                )
            )
        return found

    def model(self, name: str, *, with_curves: bool = True) -> ModelView:
        """KeyError if no model of that name was registered."""
        try:
            versions = self.registry.versions(name)
        except UnknownRegisteredModelError as error:
            raise KeyError(name) from error
        champion = next((v for v in versions if v.is_champion), None)
        challenger = self.registry.challenger(name)
        curves = {}
        if with_curves:
            for shown in (champion, challenger):
                if shown is not None and (found := self._curves_of(shown.run_id)) is not None:
                    curves[shown.version] = found
        outcomes = self.registry.outcome_check(champion) if with_curves and champion is not None else None
        history = self.registry.champion_history(name)
        return ModelView(name, versions, champion, challenger, history, curves, outcomes)

    def _curves_of(self, run_id: str) -> dict[str, Any] | None:
        if run_id not in self._curves:
            self._curves[run_id] = self.registry.document(run_id, CURVES_ARTIFACT)
        return self._curves[run_id]
