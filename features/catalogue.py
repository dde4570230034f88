"""The model catalogue: what each model is, declared once, and read by every package that acts on it.

An entry says what a model predicts (its outcome and horizon), for whom (its population, a rule
over the contact's features), from what (its feature service) and how it is judged (its
primary metric); training builds labels and specs from it, serving generates its route and
batch population from it, the pages and the commands iterate it.

It lives in `features` because an entry is written in the features' vocabulary (the feature
service and the population rule are features), and because it is the lowest package training
and serving both import; the CRM core never imports it (its pages read model titles from the
descriptions serving stores beside the predictions).

The built-in entries are below. A data home may add its own in `models.toml` (one `[[model]]`
table per model, validated here with every problem named): a model whose outcome is one the
product can already label is configuration, not code.
"""

from __future__ import annotations

import enum
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from crm_core.errors import CrmError
from features.schema import FEATURE_NAMES, FEATURES

MODEL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
CATALOGUE_FILE = "models.toml"
MAX_HORIZON_DAYS = 730


class CatalogueError(CrmError, ValueError):
    """The data home's model catalogue cannot be used: which entry, which field, and why."""


class UnknownModelError(CrmError, LookupError):
    """A model name the catalogue does not hold."""

    def __init__(self, model_name: str, known: list[str]) -> None:
        super().__init__(f"unknown model '{model_name}'; known models: {', '.join(known)}")
        self.model_name = model_name


class ModelKind(enum.StrEnum):
    SCORER = "scorer"  # a calibrated probability per contact, with bands and reasons
    RECOMMENDER = "recommender"  # a ranked list of products per contact


class Outcome(enum.StrEnum):
    """What a model predicts, each labelled point-in-time by one builder in `training.labels`."""

    GOES_QUIET = "goes_quiet"  # no order and no interaction within the horizon
    DEAL_WON = "deal_won"  # an open deal is won within the horizon
    ORDER_PLACED = "order_placed"  # an order within the horizon
    NEXT_PURCHASES = "next_purchases"  # the products bought next (recommenders)


SCORER_OUTCOMES = frozenset({Outcome.GOES_QUIET, Outcome.DEAL_WON, Outcome.ORDER_PLACED})


class PopulationRule(BaseModel):
    """One condition on a contact's features; a model's population is every rule holding."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    feature: str
    op: Literal[">", ">=", "<", "<=", "==", "!="]
    value: float

    @field_validator("feature")
    @classmethod
    def _known_feature(cls, name: str) -> str:
        if name not in FEATURES:
            raise ValueError(f"'{name}' is not a contact feature")
        return name

    def expr(self) -> pl.Expr:
        column, value = pl.col(self.feature), pl.lit(self.value)
        comparisons = {
            ">": column > value,
            ">=": column >= value,
            "<": column < value,
            "<=": column <= value,
            "==": column == value,
            "!=": column != value,
        }
        return comparisons[self.op]

    def describe(self) -> str:
        shown = int(self.value) if float(self.value).is_integer() else self.value
        return f"{FEATURES[self.feature][1]} {self.op} {shown}"


ModelName = Annotated[str, Field(pattern=MODEL_NAME_PATTERN)]
ShortText = Annotated[str, Field(min_length=1, max_length=80)]


class ModelEntry(BaseModel):
    """One model, declared. `features` None means every contact feature."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: ModelName
    kind: ModelKind = ModelKind.SCORER
    title: ShortText
    outcome: Outcome
    horizon_days: int = Field(ge=1, le=MAX_HORIZON_DAYS)
    # What a high score means, as a rep reads it under the worklist's heading.
    meaning: ShortText
    worklist: ShortText | None = None
    population: tuple[PopulationRule, ...] = ()
    features: tuple[str, ...] | None = None
    primary_metric: Literal["roc_auc", "average_precision", "precision_at_10"] = "roc_auc"
    min_improvement: float = Field(default=0.0, ge=0.0, le=1.0)

    @model_validator(mode="after")
    def _consistent(self) -> ModelEntry:
        if self.kind is ModelKind.SCORER and self.outcome not in SCORER_OUTCOMES:
            raise ValueError(f"a scorer predicts one of {', '.join(sorted(SCORER_OUTCOMES))}, not {self.outcome}")
        if self.kind is ModelKind.RECOMMENDER and self.outcome is not Outcome.NEXT_PURCHASES:
            raise ValueError(f"a recommender predicts {Outcome.NEXT_PURCHASES}, not {self.outcome}")
        if self.kind is ModelKind.SCORER and self.primary_metric == "precision_at_10":
            raise ValueError("a scorer is judged by roc_auc or average_precision")
        unknown = [name for name in self.features or () if name not in FEATURES]
        if unknown:
            raise ValueError(f"not contact features: {', '.join(unknown)}")
        if self.features is not None and not self.features:
            raise ValueError("features, when given, lists at least one feature")
        return self

    @property
    def feature_service(self) -> str:
        """The Feast feature service this model's versions ask for."""
        return f"{self.name}_v1"

    @property
    def route(self) -> str:
        """Where the prediction service answers for this model, under `/predict`."""
        return f"/{self.name}"

    @property
    def feature_names(self) -> tuple[str, ...]:
        return self.features if self.features is not None else FEATURE_NAMES

    def population_expr(self) -> pl.Expr | None:
        """Who the model is for, as a filter on a feature snapshot (None: every contact)."""
        if not self.population:
            return None
        combined = self.population[0].expr()
        for rule in self.population[1:]:
            combined = combined & rule.expr()
        return combined


BUILT_IN: tuple[ModelEntry, ...] = (
    ModelEntry(
        name="churn",
        title="Churn risk",
        outcome=Outcome.GOES_QUIET,
        horizon_days=90,
        meaning="likely to go quiet in the next 90 days",
        worklist="My at-risk customers",
    ),
    ModelEntry(
        name="lead",
        title="Deal conversion",
        outcome=Outcome.DEAL_WON,
        horizon_days=90,
        meaning="likely to close a deal in the next 90 days",
        worklist="My hot leads",
        # Contacts with nothing open are not leads: the rule the lead labels use at each date.
        population=(PopulationRule(feature="open_deals_count", op=">", value=0),),
    ),
    ModelEntry(
        name="recommend",
        kind=ModelKind.RECOMMENDER,
        title="Next best offer",
        outcome=Outcome.NEXT_PURCHASES,
        horizon_days=90,
        meaning="products the contact is likely to buy next",
        primary_metric="precision_at_10",
    ),
)


class Catalogue:
    """The models of one data home, in declaration order (built-ins first)."""

    def __init__(self, entries: tuple[ModelEntry, ...]) -> None:
        self._entries = {entry.name: entry for entry in entries}

    def __iter__(self) -> Iterator[ModelEntry]:
        return iter(self._entries.values())

    def __contains__(self, name: object) -> bool:
        return name in self._entries

    @property
    def names(self) -> list[str]:
        return list(self._entries)

    def get(self, name: str) -> ModelEntry:
        try:
            return self._entries[name]
        except KeyError:
            raise UnknownModelError(name, self.names) from None

    def scorers(self) -> list[ModelEntry]:
        return [entry for entry in self if entry.kind is ModelKind.SCORER]

    def recommenders(self) -> list[ModelEntry]:
        return [entry for entry in self if entry.kind is ModelKind.RECOMMENDER]


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
    """The built-in models plus the data home's own, refusing a name declared twice."""
    path = home.resolve() / CATALOGUE_FILE
    extra = parse_entries(path.read_text(encoding="utf-8"), str(path)) if path.is_file() else ()
    seen: set[str] = set()
    for entry in (*BUILT_IN, *extra):
        if entry.name in seen:
            built_in = ", ".join(model.name for model in BUILT_IN)
            raise CatalogueError(f"{path}: model '{entry.name}' is declared twice (built-in models: {built_in})")
        seen.add(entry.name)
    return Catalogue((*BUILT_IN, *extra))
