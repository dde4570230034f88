"""Loading a shipped public data set: each of its files through the importer a company's own
export goes through (`crm-intel import` with a mapping file), then its models into the data
home's catalogue, so `build-features` and `train` follow with nothing written for it."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from crm_core.datasets.common import DatasetMissingError
from crm_core.datasets.shipped import ShippedDataset, require_files, shipped_dataset, shipped_names
from crm_core.errors import CrmError
from crm_core.schemas.imports import ImportReport
from crm_intel.app import records
from crm_intel.context import AppContext
from features.catalogue_file import CATALOGUE_FILE, parse_entries


class CatalogueInTheWayError(CrmError, ValueError):
    """The data home has its own models.toml, different from the data set's."""


@dataclass(frozen=True)
class DatasetLoad:
    dataset: ShippedDataset
    reports: list[ImportReport]
    models: list[str]  # the names of the models the data set defines (none: the built-ins judge it)
    models_file: Path
    models_installed: bool  # False: the home already held these models, or the set defines none


def load_dataset(ctx: AppContext, name: str, data_dir: Path) -> DatasetLoad:
    """Import every file of the data set, then put its models in the home's catalogue. A second
    load adds and changes nothing: each record is matched by its external id."""
    if name not in shipped_names():
        raise DatasetMissingError(f"no shipped data set '{name}'; shipped: {', '.join(shipped_names())}")
    dataset = shipped_dataset(name)
    require_files(dataset, data_dir)
    # A shipped file that no longer parses fails here, before anything is imported.
    models = [entry.name for entry in parse_entries(dataset.models_toml, f"{name}/models.toml")]
    models_file = ctx.home / CATALOGUE_FILE
    own = models_file.read_text(encoding="utf-8") if models_file.is_file() else None
    if own is not None and own != dataset.models_toml and models:
        raise CatalogueInTheWayError(
            f"{models_file} already defines this home's models; load {name} into a new data home "
            f"(CRM_HOME) or remove that file first"
        )
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    reports = []
    for file in dataset.files:
        path = file.located(data_dir)
        problems = ctx.home / "imports" / f"{name}-{path.stem}-{stamp}-problems.csv"
        reports.append(records.import_file(ctx, file.kind, path, file.mapping.mapping(), problems_path=problems))
    installing = own is None and bool(models)
    if installing:
        models_file.parent.mkdir(parents=True, exist_ok=True)
        models_file.write_text(dataset.models_toml, encoding="utf-8")
    return DatasetLoad(dataset, reports, models, models_file, models_installed=installing)
