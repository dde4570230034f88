"""Sign-in slots: each attempt claims one before any password is checked.

A claim is a single upsert that counts the attempt and returns the new count, committed at
once: concurrent sign-ins queue on the counter's row (a row lock on PostgreSQL, the write lock
on SQLite), so no two of them read the same count and the sixth of forty parallel guesses is
refused before it reaches Argon2. Counters are per account (guessing one person's password)
and per client address (one client guessing across many accounts, which also bounds how much
Argon2 CPU an anonymous caller can spend). A successful sign-in gives its slot back, so only
failures fill a window.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import cast

from sqlalchemy import Table, case, update

from crm_core.entities import LoginThrottle
from crm_core.services.idempotent import upsert_insert
from crm_core.unit_of_work import UnitOfWork

_THROTTLES = cast(Table, LoginThrottle.__table__)


@dataclass(frozen=True)
class SlotLimit:
    """`key` may have `limit` attempts per window ("account:<email>" or "client:<address>")."""

    key: str
    limit: int


def claim_slots(uow: UnitOfWork, limits: Sequence[SlotLimit], *, now: datetime, window: timedelta) -> int | None:
    """Count one attempt under every key and commit; the seconds until the caller may retry
    when any key is past its limit, else None (the attempt may go on to the password check)."""
    connection = uow.session.connection()
    insert = upsert_insert(connection.dialect.name)
    expired = _THROTTLES.c.window_started_at <= now - window
    retry_after: int | None = None
    for slot in limits:
        statement = (
            insert(_THROTTLES)
            .values(key=slot.key, window_started_at=now, attempts=1)
            .on_conflict_do_update(
                index_elements=[_THROTTLES.c.key],
                set_={
                    "attempts": case((expired, 1), else_=_THROTTLES.c.attempts + 1),
                    "window_started_at": case((expired, now), else_=_THROTTLES.c.window_started_at),
                },
            )
            .returning(_THROTTLES.c.attempts, _THROTTLES.c.window_started_at)
        )
        attempts, started = connection.execute(statement).one()
        if attempts > slot.limit:
            seconds = max(1, math.ceil((started + window - now).total_seconds()))
            retry_after = max(retry_after or 0, seconds)
    uow.commit()
    return retry_after


def give_back_slots(uow: UnitOfWork, limits: Sequence[SlotLimit]) -> None:
    """A successful sign-in returns its slots (in the caller's transaction)."""
    for slot in limits:
        uow.session.execute(
            update(_THROTTLES)
            .where(_THROTTLES.c.key == slot.key, _THROTTLES.c.attempts > 0)
            .values(attempts=_THROTTLES.c.attempts - 1)
        )
