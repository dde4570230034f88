"""A data home's own models, read from its `models.toml`: one `[[model]]` table per model,
each validated with every problem named (which entry, which field, why), merged over the
built-in catalogue."""

from __future__ import annotations

import tomllib
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from crm_core.errors import CrmError
from features.catalogue import BUILT_IN, Catalogue, ModelEntry

CATALOGUE_FILE = "models.toml"


class CatalogueError(CrmError, ValueError):
    """The data home's model catalogue cannot be used: which entry, which field, and why."""


class _CatalogueFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    model: list[dict[str, object]] = Field(default_factory=list, max_length=50)


def _problem(where: str, error: ValidationError) -> CatalogueError:
    details = "; ".join(
        f"{'.'.join(str(part) for part in problem['loc']) or 'entry'}: {problem['msg']}" for problem in error.errors()
    )
    return CatalogueError(f"{where}: {details}")


def parse_entries(text: str, source: str) -> tuple[ModelEntry, ...]:
    """The `[[model]]` entries of a catalogue file's text, each validated, problems named."""
    try:
        document = _CatalogueFile.model_validate(tomllib.loads(text))
    except tomllib.TOMLDecodeError as error:
        raise CatalogueError(f"{source} is not valid TOML: {error}") from None
    except ValidationError as error:
        raise _problem(source, error) from None
    entries = []
    for number, raw in enumerate(document.model, start=1):
        label = f"{source}, model {number}" + (f" ('{raw['name']}')" if isinstance(raw.get("name"), str) else "")
        try:
            entries.append(ModelEntry.model_validate(raw))
        except ValidationError as error:
            raise _problem(label, error) from None
    return tuple(entries)


def load_catalogue(home: Path) -> Catalogue:
    """The built-in models, each replaced by the data home's entry of the same name (a company's
    own churn), plus the data home's new ones; a name declared twice in the file is refused,
    and so is a replacement of another kind (the routes and pages of a built-in stay valid)."""
    path = home.resolve() / CATALOGUE_FILE
    own = parse_entries(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else ()
    seen: set[str] = set()
    for entry in own:
        if entry.name in seen:
            raise CatalogueError(f"{path}: model '{entry.name}' is declared twice")
        seen.add(entry.name)
    replacing = {entry.name: entry for entry in own}
    for built_in in BUILT_IN:
        replacement = replacing.get(built_in.name)
        if replacement is not None and replacement.kind is not built_in.kind:
            raise CatalogueError(
                f"{path}: model '{built_in.name}' replaces the built-in {built_in.kind.value} with a "
                f"{replacement.kind.value}; give it another name"
            )
    built_in_names = {entry.name for entry in BUILT_IN}
    merged = [replacing.get(entry.name, entry) for entry in BUILT_IN]
    return Catalogue((*merged, *(entry for entry in own if entry.name not in built_in_names)))
