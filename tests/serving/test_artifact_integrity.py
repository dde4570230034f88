"""Registered artifacts are sealed with a sha256 and refused when they change afterwards."""

from __future__ import annotations

import pickle
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import pytest
from mlflow import MlflowClient

from crm_intel.context import AppContext
from models.artifacts import DIGEST_TAG, ArtifactIntegrityError, directory_digest
from serving.champion import load_champion
from training.pipeline import RunResult
from training.tracking import Tracker


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
    client = Tracker(ctx.training).client
    recorded = client.get_model_version("churn", trained.version).tags[DIGEST_TAG]
    stored = _artifact_dir(client, "churn", trained.version)
    assert directory_digest(stored) == recorded, "sealed with the digest of what was stored"
    assert load_champion(ctx.serving.tracking_uri, "churn").version == trained.version

    marker = tmp_path / "marker"
    pickled = next(stored.rglob("python_model.pkl"))
    with _replaced(pickled, pickle.dumps(_WritesAMarker(str(marker)))):
        with pytest.raises(ArtifactIntegrityError, match=rf"churn v{trained.version}: artifact sha256 .* differs"):
            load_champion(ctx.serving.tracking_uri, "churn")
        with pytest.raises(ArtifactIntegrityError):
            Tracker(ctx.training).load_version("churn", trained.version)
    assert not marker.exists(), "the replaced pickle was never loaded"
    assert load_champion(ctx.serving.tracking_uri, "churn").version == trained.version, "restored files load again"


@pytest.mark.slow
def test_a_version_registered_without_a_digest_is_refused(trained_crm: tuple[AppContext, RunResult]) -> None:
    ctx, trained = trained_crm
    client = Tracker(ctx.training).client
    recorded = client.get_model_version("churn", trained.version).tags[DIGEST_TAG]
    client.delete_model_version_tag("churn", trained.version, DIGEST_TAG)
    try:
        with pytest.raises(ArtifactIntegrityError, match="no artifact digest was recorded"):
            load_champion(ctx.serving.tracking_uri, "churn")
    finally:
        client.set_model_version_tag("churn", trained.version, DIGEST_TAG, recorded)
