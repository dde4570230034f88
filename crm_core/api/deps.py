"""Request-scoped dependencies shared by the routers."""

from __future__ import annotations

from collections.abc import Iterator

from fastapi import Request

from crm_core.unit_of_work import UnitOfWork


def unit_of_work(request: Request) -> Iterator[UnitOfWork]:
    session_factory = request.app.state.session_factory
    if session_factory is None:
        raise RuntimeError("the CRM API was mounted without a database: set app.state.session_factory")
    with UnitOfWork(session_factory) as uow:
        yield uow
