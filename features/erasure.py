"""Forgetting erased people on the feature side: offline snapshots and the online store.

The CRM erases a person in its own transaction and leaves their id in the erasure register;
this removes every feature row of theirs, so no later training set or online lookup can bring
their behaviour back. Both steps are idempotent: a purge that dies half-way is run again.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import polars as pl

from features.schema import ENTITY_KEY
from features.settings import FeatureSettings
from features.snapshots import write_snapshots
from features.store import PROJECT, online_store_path, open_store


@dataclass(frozen=True)
class PurgeResult:
    snapshot_rows_removed: int
    online_rows_removed: int


def purge_snapshots(settings: FeatureSettings, contact_ids: Sequence[int]) -> int:
    return drop_contacts(settings.snapshot_path, contact_ids)


def drop_contacts(path: Path, contact_ids: Sequence[int], key: str = ENTITY_KEY) -> int:
    """Remove the contacts' rows from a Parquet file whose `key` column holds contact ids (a
    snapshot, a training set), rewritten only if it held any; the rows removed."""
    if not path.exists() or not contact_ids:
        return 0
    frame = pl.read_parquet(path)
    kept = frame.filter(~pl.col(key).is_in(list(contact_ids)))
    if kept.height < frame.height:
        write_snapshots(kept, path)  # atomic rename: readers see the old file or the new one
    return frame.height - kept.height


def _entity_key(contact_id: int) -> Any:
    from feast.protos.feast.types.EntityKey_pb2 import EntityKey
    from feast.protos.feast.types.Value_pb2 import Value

    return EntityKey(join_keys=[ENTITY_KEY], entity_values=[Value(int64_val=contact_id)])


def purge_online(settings: FeatureSettings, contact_ids: Sequence[int]) -> int:
    """Delete the people's rows from the online store (every feature view).

    Feast has no delete for online rows (materialize only upserts), so this removes them by
    the key Feast writes and reads them by: the serialized entity key (one row per feature
    view in SQLite; one hash holding every view on Redis).
    """
    if not contact_ids:
        return 0
    if settings.redis_url:
        return _purge_redis(settings, contact_ids)
    path = online_store_path(settings)
    if not path.exists():
        return 0
    from feast.infra.key_encoding_utils import serialize_entity_key
    from feast.infra.online_stores.helpers import compute_table_id

    store = open_store(settings)
    version = store.config.entity_key_serialization_version
    keys = [(serialize_entity_key(_entity_key(cid), version),) for cid in contact_ids]
    removed = 0
    with sqlite3.connect(path) as connection:
        existing = {row[0] for row in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        for view in store.list_feature_views():
            table = compute_table_id(PROJECT, view)
            if table in existing:
                cursor = connection.executemany(f'DELETE FROM "{table}" WHERE entity_key = ?', keys)
                removed += cursor.rowcount
    return removed


def _purge_redis(settings: FeatureSettings, contact_ids: Sequence[int]) -> int:
    import redis
    from feast.infra.online_stores.helpers import _redis_key

    assert settings.redis_url is not None
    version = open_store(settings).config.entity_key_serialization_version
    client = redis.Redis.from_url(settings.redis_url)
    try:
        keys = [_redis_key(PROJECT, _entity_key(cid), version) for cid in contact_ids]
        deleted: int = client.delete(*keys)  # type: ignore[assignment]  # sync client: an int
        return deleted
    finally:
        client.close()


def forget_contacts(settings: FeatureSettings, contact_ids: Sequence[int]) -> PurgeResult:
    return PurgeResult(purge_snapshots(settings, contact_ids), purge_online(settings, contact_ids))
