"""Registered model artifacts, sealed with a sha256 at registration and checked before loading.

A pyfunc artifact is a pickle: whoever can write to the artifact store can run code in every
process that loads it. The registry database records the digest of the artifact directory at
registration; loading copies the files out of the store, hashes the copy and unpickles that
same copy only if it matches, so nothing changed between the check and the load.

This is the one place the registering side (training) and the loading side (serving) can both
reach, which is why a little file I/O lives in `models`.
"""

from __future__ import annotations

import hashlib
import tempfile
from pathlib import Path
from typing import Any

DIGEST_TAG = "artifact_sha256"
# Written by MLflow into every download (the registered name and version), not stored with the model.
_ADDED_ON_DOWNLOAD = frozenset({"registered_model_meta"})


class ArtifactIntegrityError(RuntimeError):
    """A registered model whose files do not match the digest recorded at registration (or that
    has none): refused, because loading it would unpickle files nobody vouched for."""

    def __init__(self, model_name: str, version: str, reason: str) -> None:
        super().__init__(f"refusing to load {model_name} v{version}: {reason}")
        self.model_name = model_name
        self.version = version


def directory_digest(directory: Path) -> str:
    """sha256 over every file's relative path and content, in path order: a renamed, added,
    removed or edited file all change it."""
    outer = hashlib.sha256()
    files = (p for p in directory.rglob("*") if p.is_file())
    for path in sorted(p for p in files if p.relative_to(directory).as_posix() not in _ADDED_ON_DOWNLOAD):
        with path.open("rb") as handle:
            inner = hashlib.file_digest(handle, "sha256")
        outer.update(path.relative_to(directory).as_posix().encode())
        outer.update(b"\0")
        outer.update(inner.digest())
    return outer.hexdigest()


def _download(model_name: str, version: str, tracking_uri: str, into: Path) -> Path:
    import mlflow

    # `models:/` URIs are resolved through the process-wide registry URI, whatever
    # `tracking_uri` says: without this, a PostgreSQL registry is looked up in a default one.
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_registry_uri(tracking_uri)
    return Path(
        mlflow.artifacts.download_artifacts(
            artifact_uri=f"models:/{model_name}/{version}", dst_path=str(into), tracking_uri=tracking_uri
        )
    )


def seal(client: Any, tracking_uri: str, model_name: str, version: str) -> str:
    """Record the digest of the version's artifacts, as stored, on the model version."""
    with tempfile.TemporaryDirectory(prefix="crm-seal-") as scratch:
        digest = directory_digest(_download(model_name, version, tracking_uri, Path(scratch)))
    client.set_model_version_tag(model_name, version, DIGEST_TAG, digest)
    return digest


def load_verified(client: Any, tracking_uri: str, model_name: str, version: str) -> Any:
    """The pyfunc model of `model_name` v`version`, loaded only if its files match the seal."""
    import mlflow

    expected = client.get_model_version(model_name, version).tags.get(DIGEST_TAG)
    if not expected:
        raise ArtifactIntegrityError(model_name, version, "no artifact digest was recorded at registration")
    with tempfile.TemporaryDirectory(prefix="crm-load-") as scratch:
        local = _download(model_name, version, tracking_uri, Path(scratch))
        actual = directory_digest(local)
        if actual != expected:
            raise ArtifactIntegrityError(
                model_name, version, f"artifact sha256 {actual[:12]}... differs from the registered {expected[:12]}..."
            )
        return mlflow.pyfunc.load_model(str(local))
