"""Reading a shipped data set's description: its files, their mapping files, and its models."""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from datetime import datetime
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from crm_core.auth.principal import Principal
from crm_core.datasets.common import DatasetMissingError
from crm_core.imports.contacts import import_kind
from crm_core.imports.mapping_files import MappingFile, parse_mapping
from crm_core.imports.reading import read_table
from crm_core.schemas.imports import ImportReport
from crm_core.unit_of_work import UnitOfWork

PACKAGE = "crm_core.datasets"
DESCRIPTION = "dataset.toml"
MODELS = "models.toml"


class _FileEntry(BaseModel):
    model_config = ConfigDict(extra="forbid")

    path: str = Field(min_length=1)  # under the shared datasets folder
    mapping: str = Field(min_length=1)  # beside dataset.toml


class _Description(BaseModel):
    model_config = ConfigDict(extra="forbid")

    title: str
    description: str
    files: list[_FileEntry] = Field(min_length=1)


@dataclass(frozen=True)
class DatasetFile:
    path: str
    mapping: MappingFile

    @property
    def kind(self) -> str:
        if self.mapping.kind is None:
            raise ValueError(f"the mapping for {self.path} says no kind")
        return self.mapping.kind

    def located(self, data_dir: Path) -> Path:
        return data_dir / self.path


@dataclass(frozen=True)
class ShippedDataset:
    name: str
    title: str
    description: str
    files: tuple[DatasetFile, ...]
    models_toml: str  # the models this data set is judged on, as a data home's models.toml


def _folder(name: str) -> Traversable:
    return resources.files(PACKAGE).joinpath(name)


def shipped_names() -> list[str]:
    return sorted(entry.name for entry in resources.files(PACKAGE).iterdir() if entry.joinpath(DESCRIPTION).is_file())


def shipped_dataset(name: str) -> ShippedDataset:
    folder = _folder(name)
    described = _Description.model_validate(tomllib.loads(folder.joinpath(DESCRIPTION).read_text("utf-8")))
    files = tuple(
        DatasetFile(entry.path, parse_mapping(folder.joinpath(entry.mapping).read_text("utf-8"), entry.mapping))
        for entry in described.files
    )
    models = folder.joinpath(MODELS).read_text("utf-8")
    return ShippedDataset(name, described.title, described.description, files, models)


def require_files(dataset: ShippedDataset, data_dir: Path) -> None:
    """DatasetMissingError naming every file of the set that is not in `data_dir`."""
    missing = [str(file.located(data_dir)) for file in dataset.files if not file.located(data_dir).is_file()]
    if missing:
        raise DatasetMissingError(f"{', '.join(missing)} not found: point --data-dir at the shared datasets folder")


def load_shipped(uow: UnitOfWork, principal: Principal, name: str, data_dir: Path, now: datetime) -> list[ImportReport]:
    """Every file of the data set through the generic importer, in the caller's unit of work."""
    dataset = shipped_dataset(name)
    require_files(dataset, data_dir)
    reports = []
    for file in dataset.files:
        mapping = file.mapping.mapping()
        path = file.located(data_dir)
        frame = read_table(path, separator=mapping.separator)
        reports.append(import_kind(uow, principal, file.kind, frame, mapping=mapping, source=path.name, now=now))
    return reports
