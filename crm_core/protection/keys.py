"""Where field keys come from, and how a new key replaces the old ones.

Production sets CRM_FIELD_KEYS and CRM_LOOKUP_KEY (from a secret store). The embedded default
keeps generated keys in a file of the data home, readable by the owner only, next to the
database it protects: the database copied alone is unreadable.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from crm_core.protection.keyring import FieldKeyError, FieldKeyring, new_key
from crm_core.settings import CoreSettings

PRIVATE_FILE = 0o600


def load_keyring(settings: CoreSettings) -> FieldKeyring:
    if settings.field_keys or settings.lookup_key:
        if not (settings.field_keys and settings.lookup_key):
            raise FieldKeyError("set both CRM_FIELD_KEYS and CRM_LOOKUP_KEY, or neither (to use the key file)")
        keys = tuple(key for key in settings.field_keys.split(",") if key.strip())
        return FieldKeyring(keys, settings.lookup_key)
    path = settings.key_file
    if not path.exists():
        _write_key_file(path, FieldKeyring.generate())
    return read_key_file(path)


def read_key_file(path: Path) -> FieldKeyring:
    try:
        document = json.loads(path.read_text())
        return FieldKeyring(tuple(document["encryption_keys"]), document["lookup_key"])
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise FieldKeyError(f"cannot read field keys from {path}: {error}") from error


def _write_key_file(path: Path, keyring: FieldKeyring) -> None:
    """Write atomically with owner-only permissions: a torn key file would lose the data."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    scratch = path.with_suffix(".tmp")
    descriptor = os.open(scratch, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, PRIVATE_FILE)
    with os.fdopen(descriptor, "w") as handle:
        json.dump({"encryption_keys": list(keyring.encryption_keys), "lookup_key": keyring.lookup_key}, handle)
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(scratch, path)


def add_primary_key(path: Path) -> FieldKeyring:
    """A new encrypting key in front of the current ones; old keys stay until re-encryption ends."""
    current = read_key_file(path)
    rotated = FieldKeyring((new_key(), *current.encryption_keys), current.lookup_key)
    _write_key_file(path, rotated)
    return rotated


def retire_old_keys(path: Path) -> FieldKeyring:
    current = read_key_file(path)
    kept = FieldKeyring(current.encryption_keys[:1], current.lookup_key)
    _write_key_file(path, kept)
    return kept
