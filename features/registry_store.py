"""Feast's file registry, written atomically, as a registry store of our own.

Feast's `FileRegistryStore` truncates the registry file and then writes the new one in place,
so a process killed between the two leaves an empty or partial registry. Feast then reads it
as a registry with no feature views at all: the online-refresh crash drill caught exactly
that, a refresh after a SIGKILL finding nothing to refresh. This store implements Feast's
public `RegistryStore` interface (what `registry_store_type` plugs in) rather than patching
Feast's own file store: the new registry goes to a temporary file beside the old one, is
flushed to disk, and replaces it in one rename, so a reader sees the previous registry or the
next one, never a piece of either.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from datetime import UTC, datetime
from pathlib import Path

from feast.infra.registry.registry_store import RegistryStore
from feast.protos.feast.core.Registry_pb2 import Registry as RegistryProto
from feast.repo_config import RegistryConfig


class AtomicFileRegistryStore(RegistryStore):
    def __init__(self, registry_config: RegistryConfig, repo_path: Path) -> None:
        path = Path(str(registry_config.path))
        self.path = path if path.is_absolute() else Path(repo_path) / path

    def get_registry_proto(self) -> RegistryProto:
        if not self.path.exists():
            raise FileNotFoundError(f"no Feast registry at {self.path}: run `crm-intel build-features`")
        registry = RegistryProto()
        registry.ParseFromString(self.path.read_bytes())
        return registry

    def update_registry_proto(self, registry_proto: RegistryProto) -> None:
        registry_proto.version_id = str(uuid.uuid4())
        registry_proto.last_updated.FromDatetime(datetime.now(UTC))
        target = self.path
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, scratch = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".partial")
        try:
            with os.fdopen(handle, "wb") as file:
                file.write(registry_proto.SerializeToString())
                file.flush()
                os.fsync(file.fileno())
            os.replace(scratch, target)
        except BaseException:
            os.unlink(scratch)
            raise
        directory = os.open(target.parent, os.O_RDONLY)
        try:
            os.fsync(directory)  # the rename itself survives a power cut
        finally:
            os.close(directory)

    def teardown(self) -> None:
        self.path.unlink(missing_ok=True)
