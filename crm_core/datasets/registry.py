"""Loading a public data set into a CRM by name, by its shipped mapping files."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import Engine

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.clock import utc_now
from crm_core.datasets.shipped import load_shipped, shipped_names
from crm_core.db import make_session_factory
from crm_core.unit_of_work import UnitOfWork

LOADER = Principal.system(Role.ADMIN, "data set load")


def import_dataset(engine: Engine, name: str, data_dir: Path) -> dict[str, int]:
    """Load the data set in one transaction; records added per kind of file, in load order
    (a kind loaded from two files adds up)."""
    if name not in shipped_names():
        raise KeyError(f"unknown data set '{name}'; known: {', '.join(shipped_names())}")
    with UnitOfWork(make_session_factory(engine)) as uow:
        reports = load_shipped(uow, LOADER, name, data_dir, utc_now())
        uow.commit()
    added: dict[str, int] = {}
    for report in reports:
        added[report.kind] = added.get(report.kind, 0) + report.inserted
    return added
