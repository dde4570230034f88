"""Plain lead contacts written straight to a test database, for tests that need ids to act on."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Engine

from crm_core.db import make_session_factory
from crm_core.entities import Contact
from crm_core.unit_of_work import UnitOfWork


def add_contacts(engine: Engine, count: int, *, prefix: str = "C") -> list[int]:
    """`count` new contacts named `<prefix><n>`, created 2026-10-01; their ids, in order."""
    with UnitOfWork(make_session_factory(engine)) as uow:
        rows = [
            Contact(first_name=f"{prefix}{i}", last_name="X", lifecycle_stage="lead", created_at=datetime(2026, 10, 1))
            for i in range(count)
        ]
        uow.session.add_all(rows)
        uow.commit()
        return [row.id for row in rows]
