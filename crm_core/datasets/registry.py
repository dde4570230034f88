"""Loading a public data set into a CRM by name: by its shipped mapping files where it has them,
else by its own code (Instacart) into an empty CRM."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from crm_core.auth.policy import Role
from crm_core.auth.principal import Principal
from crm_core.bulk_load import ProgressCallback, load_tables
from crm_core.clock import utc_now
from crm_core.datasets import instacart
from crm_core.datasets.shipped import load_shipped, shipped_names
from crm_core.db import make_session_factory
from crm_core.unit_of_work import UnitOfWork

LOADER = Principal.system(Role.ADMIN, "data set load")


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    tables: Callable[[Path], dict[str, pl.DataFrame]]


# Data sets whose files a mapping file cannot describe yet, mapped by code.
BY_CODE = {
    dataset.name: dataset
    for dataset in (Dataset("instacart", "Instacart sample: shoppers, grocery orders and products", instacart.tables),)
}


def known_datasets() -> list[str]:
    return sorted({*shipped_names(), *BY_CODE})


def import_dataset(
    engine: Engine, name: str, data_dir: Path, on_progress: ProgressCallback | None = None
) -> dict[str, int]:
    """Load the data set in one transaction; records added per kind."""
    if name in shipped_names():
        with UnitOfWork(make_session_factory(engine)) as uow:
            reports = load_shipped(uow, LOADER, name, data_dir, utc_now())
            uow.commit()
        return {report.kind: report.inserted for report in reports}
    if name not in BY_CODE:
        raise KeyError(f"unknown data set '{name}'; known: {', '.join(known_datasets())}")
    return load_tables(engine, BY_CODE[name].tables(data_dir), on_progress)
