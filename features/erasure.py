"""Forgetting erased people on the feature side: offline snapshots and the online store.

The CRM erases a person in its own transaction and leaves their id in the erasure register;
this removes every feature row of theirs, so no later training set or online lookup can bring
their behaviour back. Both steps are idempotent: a purge that dies half-way is run again.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import polars as pl

from features.online import open_online_store
from features.schema import ENTITY_KEY
from features.settings import FeatureSettings
from features.snapshots import replace_parquet


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
        replace_parquet(kept, path)  # atomic rename: readers see the old file or the new one
    return frame.height - kept.height


def purge_online(settings: FeatureSettings, contact_ids: Sequence[int]) -> int:
    """Delete the people's rows from the online store (one per contact, whatever the store)."""
    if not contact_ids:
        return 0
    store = open_online_store(settings)
    try:
        return store.delete(list(contact_ids))
    finally:
        store.close()


def forget_contacts(settings: FeatureSettings, contact_ids: Sequence[int]) -> PurgeResult:
    return PurgeResult(purge_snapshots(settings, contact_ids), purge_online(settings, contact_ids))
