"""Re-encrypting every protected value under the active keyring's primary key.

Runs in batches, each its own transaction: every value stays readable throughout (old and new
keys are both in the keyring until the end), so an interrupted rotation is simply run again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, Table, text, update

from crm_core.entities import Base
from crm_core.protection.column_types import EncryptedText
from crm_core.protection.keyring import active

BATCH = 2_000


@dataclass(frozen=True)
class RotationResult:
    values_rewritten: int
    values_already_current: int


def protected_columns() -> dict[Table, list[str]]:
    found: dict[Table, list[str]] = {}
    for table in Base.metadata.sorted_tables:
        names = [column.name for column in table.columns if isinstance(column.type, EncryptedText)]
        if names:
            found[table] = names
    return found


def reencrypt(engine: Engine, on_progress: Callable[[int], None] | None = None) -> RotationResult:
    keyring = active()
    rewritten = current = 0
    for table, names in protected_columns().items():
        # Raw ciphertexts (text(), not the column types) show which key wrote each value.
        raw_batch = text(f"SELECT id, {', '.join(names)} FROM {table.name} WHERE id > :last ORDER BY id LIMIT :n")
        last_id = 0
        while True:
            with engine.begin() as connection:
                rows = connection.execute(raw_batch, {"last": last_id, "n": BATCH}).all()
                if not rows:
                    break
                for row in rows:
                    stale: dict[str, str] = {}
                    for position, name in enumerate(names, start=1):
                        token = row[position]
                        if token is None:
                            continue
                        if keyring.written_with_primary(token):
                            current += 1
                        else:
                            stale[name] = keyring.decrypt(token, f"{table.name}.{name}")
                    if stale:
                        # Written through the column types, so under the primary key.
                        connection.execute(update(table).where(table.c.id == row[0]).values(**stale))
                        rewritten += len(stale)
                last_id = rows[-1][0]
            if on_progress is not None:
                on_progress(len(rows))
    return RotationResult(values_rewritten=rewritten, values_already_current=current)
