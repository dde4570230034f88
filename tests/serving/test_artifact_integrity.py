"""Registered artifacts and the champion alias are sealed with a key the registry does not hold,
and refused when anyone changes them outside the product (the registry-takeover chain)."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
from mlflow import MlflowClient

from crm_core.protection.keyring import model_seal_key
from crm_intel.context import AppContext
from features.model_registry import ArtifactIntegrityError
from features.model_registry.seals import artifact_seal, directory_digest
from features.model_registry.vocabulary import ARTIFACT_SEAL_TAG, CHAMPION_ALIAS
from models.calibration import CalibratedModel
from serving.champion import load_champion
from training.pipeline import RunResult


def test_the_digest_changes_with_any_edit_rename_addition_or_removal(tmp_path: Path) -> None:
    (tmp_path / "model").mkdir()
    (tmp_path / "model" / "python_model.pkl").write_bytes(b"weights")
    (tmp_path / "MLmodel").write_text("flavors: {}")
    original = directory_digest(tmp_path)
    assert directory_digest(tmp_path) == original, "stable for the same files"

    changes = []
    (tmp_path / "model" / "python_model.pkl").write_bytes(b"weightz")
    changes.append(directory_digest(tmp_path))
    (tmp_path / "model" / "python_model.pkl").write_bytes(b"weights")
    (tmp_path / "model" / "python_model.pkl").rename(tmp_path / "model" / "other.pkl")
    changes.append(directory_digest(tmp_path))
    (tmp_path / "model" / "other.pkl").rename(tmp_path / "model" / "python_model.pkl")
    (tmp_path / "extra.py").write_text("")
    changes.append(directory_digest(tmp_path))
    (tmp_path / "extra.py").unlink()
    assert directory_digest(tmp_path) == original, "back to the same files, back to the same digest"
    (tmp_path / "MLmodel").unlink()
    changes.append(directory_digest(tmp_path))
    assert original not in changes and len(set(changes)) == len(changes)


def _artifact_dir(client: MlflowClient, name: str, version: str) -> Path:
    return Path(urlparse(client.get_model_version_download_uri(name, version)).path)


@contextmanager
def _replaced(path: Path, content: bytes) -> Iterator[None]:
    """The shared trained CRM is used by other tests: put the file back whatever happens."""
    original = path.read_bytes()
    path.write_bytes(content)
    try:
        yield
    finally:
        path.write_bytes(original)


class _WritesAMarker:
    def __init__(self, path: str) -> None:
        self.path = path

    def __reduce__(self) -> tuple[object, tuple[str, str]]:
        return (Path.write_text, (Path(self.path), "code ran"))  # type: ignore[return-value]


@pytest.mark.slow
def test_a_tampered_champion_is_refused_before_it_is_unpickled(
    trained_crm: tuple[AppContext, RunResult], tmp_path: Path
) -> None:
    ctx, trained = trained_crm
    client = ctx.registry.client
    recorded = client.get_model_version("churn", trained.version).tags[ARTIFACT_SEAL_TAG]
    stored = _artifact_dir(client, "churn", trained.version)
    expected = artifact_seal(model_seal_key(), "churn", trained.version, directory_digest(stored))
    assert recorded == expected, "sealed over the digest of what was stored"
    assert load_champion(ctx.registry, "churn").version == trained.version

    marker = tmp_path / "marker"
    pickled = next(stored.rglob("python_model.pkl"))
    with _replaced(pickled, pickle.dumps(_WritesAMarker(str(marker)))):
        with pytest.raises(ArtifactIntegrityError, match=rf"churn v{trained.version}: its files .* do not match"):
            load_champion(ctx.registry, "churn")
        # The attacker re-seals with what the registry could tell them: the new files' sha256.
        client.set_model_version_tag("churn", trained.version, ARTIFACT_SEAL_TAG, directory_digest(stored))
        try:
            with pytest.raises(ArtifactIntegrityError, match="do not match the seal"):
                load_champion(ctx.registry, "churn")
        finally:
            client.set_model_version_tag("churn", trained.version, ARTIFACT_SEAL_TAG, recorded)
        with pytest.raises(ArtifactIntegrityError):
            ctx.registry.load("churn", trained.version, CalibratedModel)
    assert not marker.exists(), "the replaced pickle was never loaded"
    assert load_champion(ctx.registry, "churn").version == trained.version, "restored files load again"


@pytest.mark.slow
def test_a_version_registered_without_a_seal_is_refused(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, trained = trained_crm
    client = ctx.registry.client
    recorded = client.get_model_version("churn", trained.version).tags[ARTIFACT_SEAL_TAG]
    client.delete_model_version_tag("churn", trained.version, ARTIFACT_SEAL_TAG)
    try:
        with pytest.raises(ArtifactIntegrityError, match="carries no keyed seal"):
            load_champion(ctx.registry, "churn")
    finally:
        client.set_model_version_tag("churn", trained.version, ARTIFACT_SEAL_TAG, recorded)


@pytest.mark.slow
def test_a_version_registered_and_made_champion_outside_the_product_is_refused(
    trained_crm: tuple[AppContext, RunResult], tmp_path: Path
) -> None:
    """The takeover chain: a new version registered straight in the registry (as MLflow's UI or
    its artifact proxy allowed), given a copied seal, and made champion."""
    ctx, trained = trained_crm
    client = ctx.registry.client
    source = client.get_model_version("churn", trained.version)
    planted = client.create_model_version("churn", source.source, run_id=source.run_id)
    try:
        copied = client.get_model_version("churn", trained.version).tags[ARTIFACT_SEAL_TAG]
        client.set_model_version_tag("churn", planted.version, ARTIFACT_SEAL_TAG, copied)
        client.set_registered_model_alias("churn", CHAMPION_ALIAS, planted.version)
        with pytest.raises(ArtifactIntegrityError, match="moved outside crm-intel"):
            load_champion(ctx.registry, "churn")
        client.delete_registered_model_alias("churn", CHAMPION_ALIAS)
        with pytest.raises(ArtifactIntegrityError, match="alias was removed outside crm-intel"):
            load_champion(ctx.registry, "churn")
    finally:
        client.set_registered_model_alias("churn", CHAMPION_ALIAS, trained.version)
        client.delete_model_version("churn", planted.version)
    assert load_champion(ctx.registry, "churn").version == trained.version
