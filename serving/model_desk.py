"""What the data scientists' model pages show, read from the MLflow registry: every version with
its holdout metrics and the gate's verdict, the champion and its challenger side by side, their
holdout curves, and the drift of the scored population from the champion's training set.

Read-only: changing the champion is a job the worker runs (see `model_jobs`).
"""

from __future__ import annotations

import json
import tempfile
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.curves import CURVES_ARTIFACT
from serving.champion import CHAMPION_ALIAS

if TYPE_CHECKING:
    from mlflow import MlflowClient

DRIFT_PREFIX = "drift_psi_"
DRIFT_WORST = "drift_psi_max"
HEADLINE_METRICS = ("roc_auc", "pr_auc", "ece", "brier", "lift_top_decile", "precision_at_10", "ndcg_at_10")


@dataclass(frozen=True)
class VersionView:
    version: str
    run_id: str
    created_at: datetime
    metrics: dict[str, float]
    params: dict[str, str]
    tags: dict[str, str]
    is_champion: bool

    @property
    def holdout(self) -> dict[str, float]:
        return {k.removeprefix("holdout_"): v for k, v in self.metrics.items() if k.startswith("holdout_")}

    @property
    def headline(self) -> list[tuple[str, float]]:
        return [(name, self.holdout[name]) for name in HEADLINE_METRICS if name in self.holdout]

    @property
    def verdict(self) -> str:
        if self.tags.get("rolled_back") == "true":
            return f"rolled back to v{self.tags.get('rolled_back_to', '?')}"
        return self.tags.get("reason", "")


@dataclass(frozen=True)
class ModelView:
    name: str
    versions: list[VersionView]
    champion: VersionView | None
    challenger: VersionView | None
    history: list[str]
    curves: dict[str, dict[str, Any]] = field(default_factory=dict)  # version -> curves
    drift: list[tuple[str, float]] = field(default_factory=list)  # (feature, PSI), worst first

    @property
    def primary_metric(self) -> str | None:
        for version in self.versions:
            for key in version.metrics:
                if key.startswith("champion_holdout_"):
                    return key.removeprefix("champion_holdout_")
        head = self.versions[0].headline if self.versions else []
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

    def __init__(self, tracking_uri: str) -> None:
        self.tracking_uri = tracking_uri
        self._curves: dict[str, dict[str, Any] | None] = {}

    def _client(self) -> MlflowClient:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    def names(self) -> list[str]:
        return sorted(model.name for model in self._client().search_registered_models())

    def summaries(self) -> list[ModelSummary]:
        found = []
        for name in self.names():
            view = self.model(name, with_curves=False)
            champion = view.champion
            primary = view.primary_metric
            found.append(
                ModelSummary(
                    name=name,
                    versions=len(view.versions),
                    champion=champion.version if champion else None,
                    primary=(primary, champion.holdout[primary])
                    if champion and primary and primary in champion.holdout
                    else None,
                    worst_drift=champion.metrics.get(DRIFT_WORST) if champion else None,
                )
            )
        return found

    def model(self, name: str, *, with_curves: bool = True) -> ModelView:
        from mlflow.exceptions import MlflowException

        client = self._client()
        try:
            registered = client.get_registered_model(name)
        except MlflowException as error:
            raise KeyError(name) from error
        champion_version = registered.aliases.get(CHAMPION_ALIAS) if registered.aliases else None
        versions = []
        for entry in client.search_model_versions(f"name = '{name}'"):
            run = client.get_run(str(entry.run_id)).data
            versions.append(
                VersionView(
                    version=str(entry.version),
                    run_id=str(entry.run_id),
                    created_at=datetime.fromtimestamp(int(entry.creation_timestamp) / 1000, tz=UTC),
                    metrics=dict(run.metrics),
                    params=dict(run.params),
                    tags=dict(entry.tags or {}),
                    is_champion=str(entry.version) == str(champion_version),
                )
            )
        versions.sort(key=lambda v: int(v.version), reverse=True)
        champion = next((v for v in versions if v.is_champion), None)
        challenger = next((v for v in versions if not v.is_champion and v.tags.get("rolled_back") != "true"), None)
        if champion is not None and challenger is not None and int(challenger.version) < int(champion.version):
            challenger = None  # nothing newer than the champion is waiting
        history = json.loads((registered.tags or {}).get("champion_history", "[]"))
        curves = {}
        if with_curves:
            for shown in (champion, challenger):
                if shown is not None and (found := self._curves_of(shown.run_id)) is not None:
                    curves[shown.version] = found
        drift = []
        if champion is not None:
            drift = sorted(
                (
                    (key.removeprefix(DRIFT_PREFIX), value)
                    for key, value in champion.metrics.items()
                    if key.startswith(DRIFT_PREFIX) and key != DRIFT_WORST
                ),
                key=lambda pair: -pair[1],
            )
        return ModelView(name, versions, champion, challenger, [str(v) for v in history], curves, drift)

    def _curves_of(self, run_id: str) -> dict[str, Any] | None:
        if run_id not in self._curves:
            from mlflow.exceptions import MlflowException

            with tempfile.TemporaryDirectory() as scratch:
                try:
                    path = self._client().download_artifacts(run_id, CURVES_ARTIFACT, scratch)
                except (MlflowException, OSError):
                    self._curves[run_id] = None
                else:
                    self._curves[run_id] = json.loads(Path(path).read_text())
        return self._curves[run_id]
