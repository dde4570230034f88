"""The MLflow registry as the product uses it: runs logged and registered, the champion alias
moved only with a seal, versions read back as `VersionRecord`s, models loaded only when sealed.

Every call passes the tracking URI it was given; nothing relies on MLflow's defaults, which
would write `mlflow.db` into whatever directory the process started in. MLflow is imported when
a method first needs it, so importing this module costs nothing to a command that never trains.
"""

from __future__ import annotations

import json
import tempfile
import time
import warnings
from collections.abc import Mapping
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from features.model_registry import seals
from features.model_registry import vocabulary as names
from features.model_registry.records import (
    ArtifactIntegrityError,
    LoggedModel,
    NoChampionError,
    NothingToRollBackError,
    PromotionRefusedError,
    Rollback,
    RunRecord,
    UnknownRegisteredModelError,
    VersionRecord,
)

# The wrappers subclass MLflow's PythonModel, so they are imported by the methods that need them:
# a command that only reads the registry's names never pays for MLflow's pyfunc machinery.
if TYPE_CHECKING:
    import pandas as pd
    from mlflow import MlflowClient

    from features.model_registry.wrappers import CalibratedPyfunc, ProbabilityModel, RankingModel, RecommenderPyfunc

Expected = TypeVar("Expected")
MAX_HISTORY = 50


class ModelRegistry:
    """One tracking server (or SQL store) and the key that seals what the product registers.

    `artifact_root` is where new experiments keep their files (needed only to log runs);
    `seal_key` defaults to the data home's model seal key.
    """

    def __init__(self, tracking_uri: str, *, artifact_root: Path | None = None, seal_key: bytes | None = None) -> None:
        self.tracking_uri = tracking_uri
        self.artifact_root = artifact_root
        self._seal_key = seal_key

    @cached_property
    def client(self) -> MlflowClient:
        from mlflow import MlflowClient

        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.tracking_uri)

    @property
    def seal_key(self) -> bytes:
        if self._seal_key is None:
            from crm_core.protection.keyring import model_seal_key

            self._seal_key = model_seal_key()
        return self._seal_key

    def exists(self) -> bool:
        """False for an embedded registry never written: reading must not create one."""
        if self.tracking_uri.startswith("sqlite:///"):
            return Path(self.tracking_uri.removeprefix("sqlite:///")).exists()
        return True

    def prepare(self) -> None:
        """Create or upgrade the registry's tables once, before a server's workers start.

        MLflow builds a SQL store's tables on first open; two workers opening a new registry at
        the same moment both ran its migrations and one died at start.
        """
        self.client.search_experiments(max_results=1)
        self.client.search_registered_models(max_results=1)

    # Reading ---------------------------------------------------------------------------------

    def names(self) -> list[str]:
        return sorted(model.name for model in self.client.search_registered_models())

    def champion_version(self, model_name: str) -> str | None:
        """The version the alias points at now, or None; one registry lookup, unverified."""
        from mlflow.exceptions import MlflowException

        try:
            return str(self.client.get_model_version_by_alias(model_name, names.CHAMPION_ALIAS).version)
        except MlflowException:
            return None

    def champion_history(self, model_name: str) -> list[str]:
        """Versions that held the champion alias, oldest first, the current one last."""
        from mlflow.exceptions import MlflowException

        try:
            tags = self.client.get_registered_model(model_name).tags or {}
        except MlflowException:
            return []
        return [str(version) for version in json.loads(tags.get(names.HISTORY_TAG, "[]"))]

    def version(self, model_name: str, version: str) -> VersionRecord:
        entry = self.client.get_model_version(model_name, version)
        return self._record(entry, is_champion=self.champion_version(model_name) == str(entry.version))

    def versions(self, model_name: str) -> list[VersionRecord]:
        """Every registered version, newest first; UnknownRegisteredModelError if none ever was."""
        from mlflow.exceptions import MlflowException

        try:
            registered = self.client.get_registered_model(model_name)
        except MlflowException as error:
            raise UnknownRegisteredModelError(model_name) from error
        champion = str((registered.aliases or {}).get(names.CHAMPION_ALIAS, ""))
        found = [
            self._record(entry, is_champion=str(entry.version) == champion)
            for entry in self.client.search_model_versions(f"name = '{model_name}'")
        ]
        return sorted(found, key=lambda record: -record.number)

    def verified_champion(self, model_name: str) -> VersionRecord:
        """The version the champion alias names, after checking the product put it there.

        An alias moved outside crm-intel, or removed while crm-intel had sealed one, is refused
        with ArtifactIntegrityError; none ever set is NoChampionError.
        """
        from mlflow.exceptions import MlflowException

        try:
            entry = self.client.get_model_version_by_alias(model_name, names.CHAMPION_ALIAS)
        except MlflowException as error:
            made = seals.sealed_champion(self.client, model_name)
            if made is not None:
                raise ArtifactIntegrityError(
                    model_name, made, "crm-intel made it champion, but the alias was removed outside crm-intel"
                ) from error
            raise NoChampionError(model_name) from error
        seals.verify_champion(self.client, model_name, str(entry.version), self.seal_key)
        if entry.run_id is None:
            raise NoChampionError(model_name)
        return self._record(entry, is_champion=True)

    def challenger(self, model_name: str) -> VersionRecord | None:
        """The newest version registered after the champion that was neither promoted nor
        rolled back: the candidate that lost the gate, worth scoring in the shadows.

        Versions are judged by their own tags; only the one chosen has its run read (reading
        every version's run cost one registry round trip per version ever trained).
        """
        from mlflow.exceptions import MlflowException

        try:
            registered = self.client.get_registered_model(model_name)
        except MlflowException:
            return None
        champion = (registered.aliases or {}).get(names.CHAMPION_ALIAS)
        entries = self.client.search_model_versions(f"name = '{model_name}'")
        for entry in sorted(entries, key=lambda found: -int(found.version)):
            if champion is not None and int(entry.version) <= int(champion):
                return None
            judged = self._record(entry, is_champion=False, with_run=False)
            if not judged.promoted and not judged.rolled_back:
                return self._record(entry, is_champion=False)
        return None

    def document(self, run_id: str, path: str) -> dict[str, Any] | None:
        """A JSON artifact a run logged (see `log_scorer_run`'s documents), or None."""
        from mlflow.exceptions import MlflowException

        with tempfile.TemporaryDirectory(prefix="crm-doc-") as scratch:
            try:
                local = self.client.download_artifacts(run_id, path, scratch)
            except (MlflowException, OSError):
                return None
            loaded: dict[str, Any] = json.loads(Path(local).read_text())
            return loaded

    def load(self, model_name: str, version: str, expected: type[Expected]) -> Expected:
        """The fitted model inside `model_name` v`version`, only if its files match the seal."""
        from features.model_registry.wrappers import legacy_class_paths, unwrap

        with legacy_class_paths():
            loaded = seals.load_verified(self.client, self.tracking_uri, model_name, version, self.seal_key)
        return unwrap(loaded, expected, model_name)

    def _record(self, entry: Any, *, is_champion: bool, with_run: bool = True) -> VersionRecord:
        """`entry` as a record; without its run (`with_run=False`) params, metrics and run tags
        are empty, for judging a version by its own tags alone."""
        run = self.client.get_run(str(entry.run_id)) if entry.run_id and with_run else None
        return VersionRecord(
            model_name=str(entry.name),
            version=str(entry.version),
            run_id=str(entry.run_id or ""),
            created_at=datetime.fromtimestamp(int(entry.creation_timestamp) / 1000, tz=UTC),
            params=dict(run.data.params) if run else {},
            metrics=dict(run.data.metrics) if run else {},
            tags=dict(entry.tags or {}),
            run_tags=dict(run.data.tags) if run else {},
            is_champion=is_champion,
        )

    # Writing ---------------------------------------------------------------------------------

    def log_scorer_run(
        self,
        run: RunRecord,
        model: ProbabilityModel,
        example_input: pd.DataFrame,
        documents: Mapping[str, dict[str, Any]] | None = None,
    ) -> LoggedModel:
        """A scoring model's run; the registered pyfunc answers feature rows with probabilities.
        `documents` are JSON artifacts by path (the holdout curves the model page draws)."""
        from features.model_registry.wrappers import CalibratedPyfunc

        return self._log_run(run, CalibratedPyfunc(model), example_input.head(5), dict(run.params), documents or {})

    def log_recommender_run(
        self, run: RunRecord, recommender: RankingModel, *, k: int, example_users: list[int], data_timestamp: datetime
    ) -> LoggedModel:
        """A recommender's run; the registered pyfunc answers contact ids with ranked products."""
        import pandas as pd

        from features.model_registry.wrappers import RecommenderPyfunc

        params = {
            **run.params,
            names.TOP_K_PARAM: k,
            names.DATA_TIMESTAMP_PARAM: data_timestamp.isoformat(timespec="seconds"),
        }
        example = pd.DataFrame({"contact_id": example_users})
        return self._log_run(run, RecommenderPyfunc(recommender, k=k), example, params, {})

    def _log_run(
        self,
        run: RunRecord,
        wrapper: CalibratedPyfunc | RecommenderPyfunc,
        example: pd.DataFrame,
        params: dict[str, Any],
        documents: Mapping[str, dict[str, Any]],
    ) -> LoggedModel:
        """One run: params, metrics in one batch, JSON documents, the model with its signature,
        registered and sealed. Requirements are explicit: inferring them costs ~20 s per run."""
        import mlflow
        from mlflow.models import infer_signature

        metrics = {f"{names.HOLDOUT_PREFIX}{name}": value for name, value in run.holdout_metrics.items()}
        metrics |= dict(run.other_metrics)
        champion = run.champion
        if champion is not None:
            metrics[f"{names.CHAMPION_HOLDOUT_PREFIX}{champion[1]}"] = champion[2]
        tags = {names.DATA_SNAPSHOT_TAG: str(run.data_snapshot), names.PROMOTION_TAG: run.promotion_reason}
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.tracking_uri)
        with warnings.catch_warnings():
            # Only the recommender's input has integers (contact ids, never missing), so MLflow's
            # hint that an integer column cannot carry missing values does not apply.
            warnings.filterwarnings("ignore", message="Hint: Inferred schema contains integer", category=UserWarning)
            signature = infer_signature(example, wrapper.predict(None, example))
        with mlflow.start_run(experiment_id=self._experiment_id(run.model_name)) as started:
            mlflow.log_params({**params, names.CHAMPION_VERSION_PARAM: champion[0] if champion else ""})
            mlflow.log_metrics(metrics)
            mlflow.set_tags(tags)
            for path, document in documents.items():
                mlflow.log_dict(document, path)
            info = mlflow.pyfunc.log_model(
                name="model",
                python_model=wrapper,
                signature=signature,
                input_example=example,
                pip_requirements=run.requirements,
                registered_model_name=run.model_name,
            )
        version = str(info.registered_model_version)
        seals.seal(self.client, self.tracking_uri, run.model_name, version, self.seal_key)
        return LoggedModel(run_id=started.info.run_id, version=version)

    def _experiment_id(self, name: str) -> str:
        existing = self.client.get_experiment_by_name(name)
        if existing is not None:
            return str(existing.experiment_id)
        if self.artifact_root is None:
            raise ValueError("this registry was opened to read: no artifact root to create an experiment in")
        location = (self.artifact_root / name).as_uri()
        return str(self.client.create_experiment(name, artifact_location=location))

    def record_verdict(self, model_name: str, version: str, *, promote: bool, reason: str) -> None:
        """Tag the version with the gate's verdict and move the alias if it won."""
        self._tag_version(model_name, version, {names.PROMOTED_TAG: _flag(promote), names.REASON_TAG: reason})
        if promote:
            self._set_champion(model_name, version)

    def promote(self, model_name: str, version: str, *, force: bool = False) -> Rollback:
        """Move the champion alias to `version` by hand (a data scientist's decision).

        Refused, unless forced, when the version's own run measured the current champion on the
        same holdout and found the champion better: the gate's evidence is not overruled silently.
        """
        from mlflow.exceptions import MlflowException

        try:
            candidate = self.version(model_name, version)
        except MlflowException as error:
            raise PromotionRefusedError(f"'{model_name}' has no version {version}") from error
        current = self.champion_version(model_name)
        if current == version:
            raise PromotionRefusedError(f"version {version} of '{model_name}' is already the champion")
        compared = candidate.champion_holdout
        if compared is not None and candidate.measured_against == current and not force:
            metric, champion_value = compared
            own = candidate.holdout.get(metric)
            if own is not None and own < champion_value:
                raise PromotionRefusedError(
                    f"version {version} scored {metric} {own:.4f} where champion v{current} scored "
                    f"{champion_value:.4f} on the same holdout; promote with force to overrule"
                )
        self._set_champion(model_name, version)
        reason = "promoted by hand" + (" (forced)" * force)
        self._tag_version(model_name, version, {names.PROMOTED_TAG: names.TRUE, names.REASON_TAG: reason})
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
        self.client.set_registered_model_tag(model_name, names.HISTORY_TAG, json.dumps(history))
        self._tag_version(model_name, current, {names.ROLLED_BACK_TAG: names.TRUE, names.ROLLED_BACK_TO_TAG: previous})
        return Rollback(model_name=model_name, from_version=current, to_version=previous)

    def log_drift(
        self,
        record: VersionRecord,
        psi_by_feature: Mapping[str, float],
        *,
        span_psi: Mapping[str, float],
        worst: float,
    ) -> None:
        """Record the scored population's drift on the version's run, stepped by time, so the run
        page shows how far it has moved: per feature its PSI and what it moved over the same
        span of the training history, and `worst`, the largest the calendar does not explain."""
        from mlflow.entities import Metric

        now_ms = int(time.time() * 1000)
        metrics = [
            Metric(f"{prefix}{feature}", value, now_ms, now_ms // 1000)
            for prefix, figures in ((names.DRIFT_PREFIX, psi_by_feature), (names.DRIFT_SPAN_PREFIX, span_psi))
            for feature, value in figures.items()
        ]
        metrics.append(Metric(names.DRIFT_WORST_METRIC, worst, now_ms, now_ms // 1000))
        self.client.log_batch(record.run_id, metrics=metrics)

    def log_outcome_check(self, record: VersionRecord, document: Mapping[str, Any]) -> None:
        """Keep the newest check of the scores against what happened on the version's run (a
        later check replaces it); the model page reads it back with `outcome_check`."""
        self.client.log_dict(record.run_id, dict(document), names.OUTCOME_CHECK_DOCUMENT)

    def outcome_check(self, record: VersionRecord) -> dict[str, Any] | None:
        return self.document(record.run_id, names.OUTCOME_CHECK_DOCUMENT)

    def _set_champion(self, model_name: str, version: str) -> None:
        self._move_alias(model_name, version)
        history = [*self.champion_history(model_name), version][-MAX_HISTORY:]
        self.client.set_registered_model_tag(model_name, names.HISTORY_TAG, json.dumps(history))

    def _move_alias(self, model_name: str, version: str) -> None:
        """Seal the designation, then move the alias: serving refuses an alias nobody sealed."""
        seals.seal_champion(self.client, model_name, version, self.seal_key)
        self.client.set_registered_model_alias(model_name, names.CHAMPION_ALIAS, version)

    def _tag_version(self, model_name: str, version: str, tags: dict[str, str]) -> None:
        for key, value in tags.items():
            self.client.set_model_version_tag(model_name, version, key, value)


def _flag(value: bool) -> str:
    return names.TRUE if value else names.FALSE
