"""Concurrent API writers on one database: every write lands and the audit chain stays one chain."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select

from crm_core.auth.policy import Role
from crm_core.db import make_session_factory
from crm_core.entities import AuditEvent, Contact
from crm_core.services.audit import verify_chain
from crm_core.unit_of_work import UnitOfWork
from tests.crm_core.conftest import World

WRITERS = 8
WRITES_EACH = 10


def test_parallel_creates_all_land_and_the_chain_never_forks(world: World) -> None:
    headers = world.headers(Role.ADMIN)
    with world.engine.connect() as connection:
        contacts_before = connection.execute(select(func.count()).select_from(Contact)).scalar_one()
        events_before = connection.execute(select(func.count()).select_from(AuditEvent)).scalar_one()

    def writer(number: int) -> list[int]:
        return [
            world.client.post(
                "/contacts", json={"first_name": f"W{number}", "last_name": f"N{i}"}, headers=headers
            ).status_code
            for i in range(WRITES_EACH)
        ]

    with ThreadPoolExecutor(max_workers=WRITERS) as pool:
        statuses = [status for result in pool.map(writer, range(WRITERS)) for status in result]
    assert statuses == [201] * WRITERS * WRITES_EACH
    with world.engine.connect() as connection:
        assert connection.execute(select(func.count()).select_from(Contact)).scalar_one() == contacts_before + 80
        assert connection.execute(select(func.count()).select_from(AuditEvent)).scalar_one() == events_before + 80
    with UnitOfWork(make_session_factory(world.engine)) as uow:
        check = verify_chain(uow)
    assert check.intact, check
