"""Forgetting erased people in the training sets kept beside each run.

Every run keeps the exact rows it trained on (`training_sets/<model>-<digest>.parquet`) so it
can be re-run and audited; an erased person's rows must not outlive the erasure there either.
Each file keeps its name (the run's record of which set it was) and loses the person's rows,
written beside and renamed over, so a reader sees the old file or the new one.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import polars as pl

from features.erasure import drop_contacts
from features.schema import ENTITY_KEY
from models.interactions import USER


def purge_training_sets(directory: Path, contact_ids: Sequence[int]) -> int:
    """Remove the contacts' rows from every training set in `directory`; the rows removed.
    Scorers' sets are keyed by contact; the recommender's purchases by user (the contact)."""
    if not contact_ids or not directory.is_dir():
        return 0
    removed = 0
    for path in sorted(directory.glob("*.parquet")):
        columns = pl.read_parquet_schema(path)
        key = next((name for name in (ENTITY_KEY, USER) if name in columns), None)
        if key is not None:
            removed += drop_contacts(path, contact_ids, key)
    return removed
