"""The importable data sets by name, and loading one into an empty CRM."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import polars as pl
from sqlalchemy import Engine

from crm_core.bulk_load import ProgressCallback, load_tables
from crm_core.datasets import bank, instacart, olist, telco


@dataclass(frozen=True)
class Dataset:
    name: str
    description: str
    tables: Callable[[Path], dict[str, pl.DataFrame]]


DATASETS = {
    dataset.name: dataset
    for dataset in (
        Dataset("telco", "IBM Telco churn: households, customers and their subscriptions", telco.tables),
        Dataset("bank", "UCI Bank Marketing: campaign calls and term-deposit outcomes", bank.tables),
        Dataset("olist", "Olist marketing funnel: qualified leads and won deals", olist.tables),
        Dataset("instacart", "Instacart sample: shoppers, grocery orders and products", instacart.tables),
    )
}


def import_dataset(
    engine: Engine, name: str, data_dir: Path, on_progress: ProgressCallback | None = None
) -> dict[str, int]:
    """Load the data set into an empty CRM in one transaction; rows loaded per table."""
    if name not in DATASETS:
        raise KeyError(f"unknown data set '{name}'; known: {', '.join(DATASETS)}")
    return load_tables(engine, DATASETS[name].tables(data_dir), on_progress)
