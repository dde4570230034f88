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


def purge_training_sets(directory: Path, contact_ids: Sequence[int]) -> int:
    """Remove the contacts' rows from every training set in `directory`; the rows removed."""
    if not contact_ids or not directory.is_dir():
        return 0
    return sum(
        drop_contacts(path, contact_ids)
        for path in sorted(directory.glob("*.parquet"))
        if ENTITY_KEY in pl.read_parquet_schema(path)
    )
