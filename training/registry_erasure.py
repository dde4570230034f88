"""Forgetting erased people in the registered recommenders.

A recommender keeps, per person, what they bought (and, for the factor models, a row of
factors learned from it) so it can answer for them; every registered version holds that for
the people of its training history, and an erasure must not leave it there. Each version is
loaded through its seal, told to forget the people (`Recommender.forget`), saved again by
MLflow's own `save_model`, its files uploaded over the version's, and sealed anew. The version
number, metrics and champion alias stay: nothing about the model for anyone else changes.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import mlflow
import pandas as pd
from mlflow import MlflowClient
from mlflow.exceptions import MlflowException

from crm_core.protection.keyring import model_seal_key
from models.artifacts import load_verified, seal
from models.pyfunc import RecommenderPyfunc
from training.settings import TrainingSettings

FORGOTTEN_TAG = "erasures_applied"
# The files of a saved pyfunc that carry people: the pickled recommender and the input example.
PERSONAL_FILES = ("python_model.pkl", "input_example.json", "serving_input_example.json")


@dataclass(frozen=True)
class RegistryPurge:
    versions_rewritten: int
    people_forgotten: int  # summed over versions: one person known to three versions counts three


def forget_in_recommenders(
    settings: TrainingSettings, contact_ids: Collection[int], model_names: Collection[str]
) -> RegistryPurge:
    """Rewrite every registered version of the recommenders `model_names` without these people."""
    if not contact_ids:
        return RegistryPurge(0, 0)
    uri = settings.tracking_uri
    if uri.startswith("sqlite:///") and not Path(uri.removeprefix("sqlite:///")).exists():
        return RegistryPurge(0, 0)  # no registry yet: nothing registered to forget in (and none created)
    client = MlflowClient(tracking_uri=uri, registry_uri=uri)
    rewritten = forgotten = 0
    for model_name in model_names:
        try:
            versions = client.search_model_versions(f"name = '{model_name}'")
        except MlflowException:
            continue
        for version in sorted(versions, key=lambda found: int(found.version)):
            known = _rewrite_without(client, uri, model_name, version, set(contact_ids))
            if known is not None:
                rewritten += 1
                forgotten += known
    return RegistryPurge(rewritten, forgotten)


def _logged_model_id(version: Any) -> str:
    """The logged model a version was registered from (MLflow 3 names it in the source URI)."""
    if getattr(version, "model_id", None):
        return str(version.model_id)
    source = str(version.source)
    if not source.startswith("models:/m-"):
        raise ValueError(f"{version.name} v{version.version} was not registered from a logged model ({source})")
    return source.removeprefix("models:/")


def _rewrite_without(client: MlflowClient, uri: str, model_name: str, version: Any, erased: set[int]) -> int | None:
    """The people the version knew, after rewriting it without them; None if it held nobody."""
    number = str(version.version)
    loaded = load_verified(client, uri, model_name, number, model_seal_key())
    wrapper = loaded.unwrap_python_model()
    if not isinstance(wrapper, RecommenderPyfunc):
        return None
    example = loaded.input_example
    kept_example = example[~example["contact_id"].isin(erased)] if isinstance(example, pd.DataFrame) else None
    known = wrapper.recommender.forget(erased)
    if known == 0 and (kept_example is None or len(kept_example) == len(example)):
        return None
    if kept_example is not None and kept_example.empty:
        kept_example = pd.DataFrame({"contact_id": [0]})  # an id no contact ever has
    with tempfile.TemporaryDirectory(prefix="crm-forget-") as scratch:
        saved = Path(scratch) / "saved"
        mlflow.pyfunc.save_model(
            path=str(saved),
            python_model=wrapper,
            signature=loaded.metadata.signature,
            input_example=kept_example,
            pip_requirements=["mlflow"],  # explicit: inferring them costs seconds; only PERSONAL_FILES are kept
        )
        upload = Path(scratch) / "upload"
        upload.mkdir()
        for name in PERSONAL_FILES:
            if (saved / name).is_file():
                shutil.copy2(saved / name, upload / name)
        client.log_model_artifacts(_logged_model_id(version), str(upload))
    seal(client, uri, model_name, number, model_seal_key())
    applied = int(client.get_model_version(model_name, number).tags.get(FORGOTTEN_TAG, "0") or 0)
    client.set_model_version_tag(model_name, number, FORGOTTEN_TAG, str(applied + len(erased)))
    return known
