"""What every data set importer shares: where files are, synthesized time, custom field rows."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import polars as pl

from crm_core.entities import CustomFieldType
from crm_core.errors import CrmError

# Data sets without real dates (Telco, Instacart) are placed on a timeline ending here.
REFERENCE_DATE = datetime(2026, 1, 1)


class DatasetMissingError(CrmError, FileNotFoundError):
    """The data set's file is not in the folder given; names the file expected."""


def dataset_file(data_dir: Path, relative: str) -> Path:
    path = data_dir / relative
    if not path.is_file():
        raise DatasetMissingError(f"{path} not found: point --data-dir at the shared datasets folder")
    return path


@dataclass(frozen=True)
class CustomField:
    name: str
    label: str
    type: CustomFieldType
    choices: tuple[str, ...] | None = None


def custom_field_rows(entity: str, fields: list[CustomField], *, first_id: int = 1) -> pl.DataFrame:
    return pl.DataFrame(
        {
            "id": list(range(first_id, first_id + len(fields))),
            "entity": [entity] * len(fields),
            "name": [f.name for f in fields],
            "label": [f.label for f in fields],
            "type": [f.type.value for f in fields],
            "choices": [list(f.choices) if f.choices else None for f in fields],
            "created_at": [REFERENCE_DATE] * len(fields),
        },
        schema_overrides={"choices": pl.List(pl.String)},
    )
