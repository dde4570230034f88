"""The audit chain's hashes: a keyed HMAC, so rewriting an event and recomputing every later
hash (anyone with write access to the database file could) no longer passes verification.

The key is derived from the field keys' lookup key (see `FieldKeyring.derived_key`), which is
kept outside the database: in the environment or the home's key file.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from typing import Any

from crm_core.protection import keyring

AUDIT_KEY_PURPOSE = "audit chain"


def _canonical_bytes(prev_hash: str, fields: dict[str, Any]) -> bytes:
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":"), default=str)
    return (prev_hash + canonical).encode()


def unkeyed_event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    """The hash events carried before the chain was keyed (kept to verify those events)."""
    return hashlib.sha256(_canonical_bytes(prev_hash, fields)).hexdigest()


def keyed_event_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    key = keyring.active().derived_key(AUDIT_KEY_PURPOSE)
    return hmac.new(key, _canonical_bytes(prev_hash, fields), hashlib.sha256).hexdigest()


def cut_over_seal(keyed_from_id: int) -> str:
    """Binds the id from which events are keyed to the key."""
    key = keyring.active().derived_key(AUDIT_KEY_PURPOSE)
    return hmac.new(key, f"keyed from {keyed_from_id}".encode(), hashlib.sha256).hexdigest()
