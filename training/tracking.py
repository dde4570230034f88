"""The one MLflow adapter: experiments, runs, the model registry and its aliases.

Every call passes the tracking URI from settings; nothing relies on MLflow's defaults, which
would write `mlflow.db` into whatever directory the process started in.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass
from typing import Any

import implicit
import lightgbm
import mlflow
import pandas as pd
import sklearn
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException
from mlflow.models import infer_signature

from crm_core.errors import CrmError
from crm_core.protection.keyring import model_seal_key
from models.artifacts import load_verified, seal, seal_champion
from models.calibration import CalibratedModel
from models.pyfunc import CalibratedPyfunc, RecommenderPyfunc, unwrap
from models.recommenders import Recommender
from training.promotion import PromotionDecision
from training.settings import TrainingSettings

CHAMPION = "champion"
# Aliases keep no history; the registered model's tag does, so a rollback knows where to go.
HISTORY_TAG = "champion_history"
MAX_HISTORY = 50


class NothingToRollBackError(CrmError, RuntimeError):
    """No champion, or none recorded before the current one."""


class PromotionRefusedError(CrmError, RuntimeError):
    """A hand promotion the registry's own record says would make things worse (or change nothing)."""


@dataclass(frozen=True)
class Rollback:
    model_name: str
    from_version: str
    to_version: str


@dataclass(frozen=True)
class LoggedModel:
    run_id: str
    version: str


class Tracker:
    def __init__(self, settings: TrainingSettings) -> None:
        self.settings = settings
        self.client = MlflowClient(tracking_uri=settings.tracking_uri, registry_uri=settings.tracking_uri)

    def _activate(self) -> None:
        mlflow.set_tracking_uri(self.settings.tracking_uri)
        mlflow.set_registry_uri(self.settings.tracking_uri)

    def experiment_id(self, name: str) -> str:
        existing = self.client.get_experiment_by_name(name)
        if existing is not None:
            return str(existing.experiment_id)
        location = (self.settings.artifact_root / name).as_uri()
        return str(self.client.create_experiment(name, artifact_location=location))

    def log_training_run(
        self,
        *,
        model_name: str,
        model: CalibratedModel,
        example_input: pd.DataFrame,
        params: dict[str, Any],
        metrics: dict[str, float],
        tags: dict[str, str],
        documents: dict[str, dict[str, Any]] | None = None,
    ) -> LoggedModel:
        """A scoring model's run: the registered pyfunc answers feature rows with probabilities.
        `documents` are JSON artifacts by path (the holdout curves the model page draws)."""
        wrapper = CalibratedPyfunc(model)
        requirements = [f"lightgbm=={lightgbm.__version__}", f"scikit-learn=={sklearn.__version__}"]
        return self._log_run(
            model_name, wrapper, example_input.head(5), requirements, params, metrics, tags, documents or {}
        )

    def log_recommender_run(
        self,
        *,
        model_name: str,
        recommender: Recommender,
        k: int,
        example_users: list[int],
        params: dict[str, Any],
        metrics: dict[str, float],
        tags: dict[str, str],
    ) -> LoggedModel:
        """A recommender's run: the registered pyfunc answers contact ids with ranked products."""
        wrapper = RecommenderPyfunc(recommender, k=k)
        requirements = [f"implicit=={implicit.__version__}", f"scikit-learn=={sklearn.__version__}"]
        example = pd.DataFrame({"contact_id": example_users})
        return self._log_run(model_name, wrapper, example, requirements, params, metrics, tags, {})

    def _log_run(
        self,
        model_name: str,
        wrapper: CalibratedPyfunc | RecommenderPyfunc,
        example: pd.DataFrame,
        requirements: list[str],
        params: dict[str, Any],
        metrics: dict[str, float],
        tags: dict[str, str],
        documents: dict[str, dict[str, Any]],
    ) -> LoggedModel:
        """One run: params, metrics in one batch, JSON documents, the model with its signature, registered.

        Requirements are explicit: inferring them costs ~20 s per run. The artifacts are sealed
        with their sha256 once registered: loading refuses them if they change afterwards.
        """
        self._activate()
        with warnings.catch_warnings():
            # Only the recommender's input has integers (contact ids, never missing), so MLflow's
            # hint that an integer column cannot carry missing values does not apply.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer", category=UserWarning)
            signature = infer_signature(example, wrapper.predict(None, example))
        with mlflow.start_run(experiment_id=self.experiment_id(model_name)) as run:
            mlflow.log_params(params)
            mlflow.log_metrics(metrics)
            mlflow.set_tags(tags)
            for path, document in documents.items():
                mlflow.log_dict(document, path)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=wrapper,
                signature=signature,
                input_example=example,
                pip_requirements=requirements,
                registered_model_name=model_name,
            )
        version = str(info.registered_model_version)
        seal(self.client, self.settings.tracking_uri, model_name, version, model_seal_key())
        return LoggedModel(run_id=run.info.run_id, version=version)

    def record_verdict(self, model_name: str, version: str, decision: PromotionDecision) -> None:
        """Tag the version with the gate's verdict and move the alias if it won."""
        self.tag_version(model_name, version, {"promoted": str(decision.promote).lower(), "reason": decision.reason})
        if decision.promote:
            self.set_champion(model_name, version)

    def champion_version(self, model_name: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(model_name, CHAMPION).version)
        except MlflowException:
            return None

    def load_version(self, model_name: str, version: str) -> CalibratedModel:
        return unwrap(load_verified(self.client, self.settings.tracking_uri, model_name, version, model_seal_key()))

    def set_champion(self, model_name: str, version: str) -> None:
        self._move_alias(model_name, version)
        history = [*self.champion_history(model_name), version][-MAX_HISTORY:]
        self.client.set_registered_model_tag(model_name, HISTORY_TAG, json.dumps(history))

    def _move_alias(self, model_name: str, version: str) -> None:
        """Seal the designation, then move the alias: serving refuses an alias nobody sealed."""
        seal_champion(self.client, model_name, version, model_seal_key())
        self.client.set_registered_model_alias(model_name, CHAMPION, version)

    def champion_history(self, model_name: str) -> list[str]:
        """Versions that held the champion alias, oldest first, the current one last."""
        try:
            tags = self.client.get_registered_model(model_name).tags
        except MlflowException:
            return []
        return [str(version) for version in json.loads(tags.get(HISTORY_TAG, "[]"))]

    def promote(self, model_name: str, version: str, *, force: bool = False) -> Rollback:
        """Move the champion alias to `version` by hand (a data scientist's decision).

        Refused, unless forced, when the version's own run measured the current champion on the
        same holdout and found the champion better: the gate's evidence is not overruled silently.
        """
        try:
            candidate = self.client.get_model_version(model_name, version)
        except MlflowException as error:
            raise PromotionRefusedError(f"'{model_name}' has no version {version}") from error
        current = self.champion_version(model_name)
        if current == version:
            raise PromotionRefusedError(f"version {version} of '{model_name}' is already the champion")
        run = self.client.get_run(str(candidate.run_id)).data
        measured_against = run.params.get("champion_version") or None
        for key, champion_value in sorted(run.metrics.items()):
            metric = key.removeprefix("champion_holdout_")
            own = run.metrics.get(f"holdout_{metric}")
            if key == metric or own is None or measured_against != current or force:
                continue
            if own < champion_value:
                raise PromotionRefusedError(
                    f"version {version} scored {metric} {own:.4f} where champion v{current} scored "
                    f"{champion_value:.4f} on the same holdout; promote with force to overrule"
                )
        self.set_champion(model_name, version)
        self.tag_version(
            model_name, version, {"promoted": "true", "reason": "promoted by hand" + (" (forced)" * force)}
        )
        return Rollback(model_name=model_name, from_version=current or "", to_version=version)

    def rollback(self, model_name: str) -> Rollback:
        """Give the alias back to the champion before the current one; the current version is
        tagged as rolled back. Repeating it walks further back through the history."""
        current = self.champion_version(model_name)
        if current is None:
            raise NothingToRollBackError(f"'{model_name}' has no champion to roll back")
        history = self.champion_history(model_name)
        while history and history[-1] == current:
            history.pop()
        if not history:
            raise NothingToRollBackError(f"no champion of '{model_name}' is recorded before version {current}")
        previous = history[-1]
        self._move_alias(model_name, previous)
        self.client.set_registered_model_tag(model_name, HISTORY_TAG, json.dumps(history))
        self.tag_version(model_name, current, {"rolled_back": "true", "rolled_back_to": previous})
        return Rollback(model_name=model_name, from_version=current, to_version=previous)

    def tag_version(self, model_name: str, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(model_name, version, key, value)
