"""Feast's file registry, written atomically.

Feast's `FileRegistryStore` truncates the registry file and then writes the new one in place,
so a process killed between the two leaves an empty or partial registry. Feast then reads it
as a registry with no feature views at all: the online-refresh crash drill caught exactly
that, a refresh after a SIGKILL finding nothing to refresh. Here the new registry goes to a
temporary file beside it, is flushed to disk, and replaces the old one in one rename, so a
reader sees the previous registry or the next one, never a piece of either.
"""

from __future__ import annotations

import os
import tempfile
import uuid
from typing import Any

from feast.infra.registry.file import FileRegistryStore
from feast.utils import _utc_now


class AtomicFileRegistryStore(FileRegistryStore):
    def _write_registry(self, registry_proto: Any) -> None:
        registry_proto.version_id = str(uuid.uuid4())
        registry_proto.last_updated.FromDatetime(_utc_now())
        target = self._filepath
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
