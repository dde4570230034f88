"""Registered model artifacts, sealed at registration and checked before loading.

A pyfunc artifact is a pickle: whoever can write to the artifact store can run code in every
process that loads it. At registration the sha256 of the artifact directory is sealed with an
HMAC whose key the registry does not hold (the caller passes it; it lives with the field keys),
and the seal is stored on the model version. Loading copies the files out of the store, hashes
the copy, checks the seal, and unpickles that same copy only if it matches, so nothing changed
between the check and the load. Someone who can write the registry can rewrite a tag, but not
compute a seal for files of their own.

The champion alias is sealed the same way when the product moves it: an alias moved, or set,
by anyone else (the MLflow UI, a script against the registry) is refused at load.

"""

from __future__ import annotations

import hashlib
import hmac
import tempfile
from pathlib import Path
from typing import Any

from features.model_registry.records import ArtifactIntegrityError
from features.model_registry.vocabulary import ARTIFACT_SEAL_TAG, CHAMPION_SEAL_TAG

# Written by MLflow into every download (the registered name and version), not stored with the model.
_ADDED_ON_DOWNLOAD = frozenset({"registered_model_meta"})


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


def _mac(key: bytes, *parts: str) -> str:
    return hmac.new(key, "\0".join(parts).encode(), hashlib.sha256).hexdigest()


def artifact_seal(key: bytes, model_name: str, version: str, digest: str) -> str:
    """Binds the files' digest to this model and version: a seal copied onto another version
    does not verify there."""
    return _mac(key, "artifact", model_name, version, digest)


def seal(client: Any, tracking_uri: str, model_name: str, version: str, key: bytes) -> str:
    """Record the keyed seal of the version's artifacts, as stored, on the model version."""
    with tempfile.TemporaryDirectory(prefix="crm-seal-") as scratch:
        digest = directory_digest(_download(model_name, version, tracking_uri, Path(scratch)))
    sealed = artifact_seal(key, model_name, version, digest)
    client.set_model_version_tag(model_name, version, ARTIFACT_SEAL_TAG, sealed)
    return sealed


def load_verified(client: Any, tracking_uri: str, model_name: str, version: str, key: bytes) -> Any:
    """The pyfunc model of `model_name` v`version`, loaded only if its files match the seal."""
    import mlflow

    expected = client.get_model_version(model_name, version).tags.get(ARTIFACT_SEAL_TAG)
    if not expected:
        raise ArtifactIntegrityError(
            model_name, version, "it carries no keyed seal (registered outside crm-intel, or before seals were keyed)"
        )
    with tempfile.TemporaryDirectory(prefix="crm-load-") as scratch:
        local = _download(model_name, version, tracking_uri, Path(scratch))
        digest = directory_digest(local)
        if not hmac.compare_digest(artifact_seal(key, model_name, version, digest), expected):
            raise ArtifactIntegrityError(
                model_name,
                version,
                f"its files (sha256 {digest[:12]}...) do not match the seal recorded at registration, "
                "or the seal was not made with this home's keys",
            )
        return mlflow.pyfunc.load_model(str(local))


def champion_seal(key: bytes, model_name: str, version: str) -> str:
    """The tag value recording that the product made `version` champion: the version, then its MAC."""
    return f"{version}:{_mac(key, 'champion', model_name, version)}"


def seal_champion(client: Any, model_name: str, version: str, key: bytes) -> None:
    """Record that the product made `version` champion; set just before the alias, every time."""
    client.set_registered_model_tag(model_name, CHAMPION_SEAL_TAG, champion_seal(key, model_name, version))


def sealed_champion(client: Any, model_name: str) -> str | None:
    """The version the product last made champion (whatever the alias says now), if any."""
    try:
        sealed = str(client.get_registered_model(model_name).tags.get(CHAMPION_SEAL_TAG, ""))
    except Exception:  # no such registered model: nothing was ever sealed
        return None
    version, _, _ = sealed.partition(":")
    return version or None


def verify_champion(client: Any, model_name: str, version: str, key: bytes) -> None:
    """Refuse a champion alias the product did not set: moved in the MLflow UI or by a script."""
    sealed = str(client.get_registered_model(model_name).tags.get(CHAMPION_SEAL_TAG, ""))
    if not hmac.compare_digest(champion_seal(key, model_name, version), sealed):
        made = sealed.partition(":")[0] or "none"
        raise ArtifactIntegrityError(
            model_name,
            version,
            f"the champion alias points here, but crm-intel made v{made} champion: it was moved outside crm-intel",
        )
