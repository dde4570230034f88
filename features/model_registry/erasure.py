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

import pandas as pd

from features.model_registry import seals
from features.model_registry.records import UnknownRegisteredModelError
from features.model_registry.registry import ModelRegistry
from features.model_registry.vocabulary import ERASURES_APPLIED_TAG
from features.model_registry.wrappers import RecommenderPyfunc, legacy_class_paths

# The files of a saved pyfunc that carry people: the pickled recommender and the input example.
PERSONAL_FILES = ("python_model.pkl", "input_example.json", "serving_input_example.json")


@dataclass(frozen=True)
class RegistryPurge:
    versions_rewritten: int
    people_forgotten: int  # summed over versions: one person known to three versions counts three


def forget_in_recommenders(
    registry: ModelRegistry, contact_ids: Collection[int], model_names: Collection[str]
) -> RegistryPurge:
    """Rewrite every registered version of the recommenders `model_names` without these people."""
    if not contact_ids or not registry.exists():
        return RegistryPurge(0, 0)  # no registry yet: nothing registered to forget in (and none created)
    rewritten = forgotten = 0
    for model_name in model_names:
        try:
            numbers = sorted(record.number for record in registry.versions(model_name))
        except UnknownRegisteredModelError:
            continue
        for number in numbers:
            version = registry.client.get_model_version(model_name, str(number))
            known = _rewrite_without(registry, model_name, version, set(contact_ids))
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


def _rewrite_without(registry: ModelRegistry, model_name: str, version: Any, erased: set[int]) -> int | None:
    """The people the version knew, after rewriting it without them; None if it held nobody."""
    import mlflow

    client, number = registry.client, str(version.version)
    with legacy_class_paths():
        loaded = seals.load_verified(client, registry.tracking_uri, model_name, number, registry.seal_key)
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
    seals.seal(client, registry.tracking_uri, model_name, number, registry.seal_key)
    applied = int(client.get_model_version(model_name, number).tags.get(ERASURES_APPLIED_TAG, "0") or 0)
    client.set_model_version_tag(model_name, number, ERASURES_APPLIED_TAG, str(applied + len(erased)))
    return known
