"""The model catalogue: what each model is, declared once, and read by every package that acts on it.

An entry says what a model predicts (its outcome and horizon), for whom (its population, a rule
over the contact's features), from what (its feature service) and how it is judged (its
primary metric); training builds labels and specs from it, serving generates its route and
batch population from it, the pages and the commands iterate it.

It lives in `features` because an entry is written in the features' vocabulary (the feature
service and the population rule are features), and because it is the lowest package training
and serving both import; the CRM core never imports it (its pages read model titles from the
descriptions serving stores beside the predictions).

The built-in entries are below. A data home may add its own in `models.toml`
(`features.catalogue_file` reads it): a model whose outcome is one the product can already
label is configuration, not code.
"""

from __future__ import annotations

import enum
from collections.abc import Iterator
from typing import Annotated, Any, Literal

import polars as pl
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from crm_core.errors import CrmError
from crm_core.schemas.records import LifecycleStage
from features.schema import FEATURE_NAMES, FEATURES

MODEL_NAME_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"
MAX_HORIZON_DAYS = 730


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

    GOES_QUIET = "goes_quiet"  # no engagement (orders and interactions, or the kinds named) within the horizon
    DEAL_WON = "deal_won"  # an open deal is won within the horizon
    ORDER_PLACED = "order_placed"  # an order within the horizon
    STAGE_REACHED = "stage_reached"  # the lifecycle stage becomes `stage` within the horizon
    FIELD_VALUE = "field_value"  # the custom field `field` becomes `value` within the horizon
    NEXT_PURCHASES = "next_purchases"  # the products bought next (recommenders)


class History(enum.StrEnum):
    """What the CRM's history says about an outcome."""

    DATED = "dated"  # when it happened: labels look ahead over the horizon, and the split is by time
    SNAPSHOT = "snapshot"  # only the value held now (a labelled export): label = that value, split at random


class SnapshotSplit(enum.StrEnum):
    """How a snapshot history's rows are divided (a dated one is always split by time)."""

    RANDOM = "random"  # stratified by the outcome: the list has no order
    RECORD_ORDER = "record_order"  # the list was written as things happened: oldest fit, newest judged


# Only a value a contact holds can be labelled without dates; events need their times.
SNAPSHOT_OUTCOMES = frozenset({Outcome.STAGE_REACHED, Outcome.FIELD_VALUE})
SCORER_OUTCOMES = frozenset(
    {Outcome.GOES_QUIET, Outcome.DEAL_WON, Outcome.ORDER_PLACED, Outcome.STAGE_REACHED, Outcome.FIELD_VALUE}
)
# The terms each outcome takes in a catalogue entry (engagement is optional: every kind counts).
OUTCOME_TERMS: dict[Outcome, frozenset[str]] = {
    Outcome.GOES_QUIET: frozenset({"engagement"}),
    Outcome.STAGE_REACHED: frozenset({"stage"}),
    Outcome.FIELD_VALUE: frozenset({"field", "value"}),
}
TERMS = ("engagement", "stage", "field", "value")
ENGAGEMENT_KIND = r"^[a-z][a-z0-9_-]{0,39}$"  # "order", or an activity type as the CRM stores it
CUSTOM_FIELD_NAME = r"^[a-z][a-z0-9_]{0,59}$"
# Shown instead of a score to a contact the entry's own feature rules leave out.
OUTSIDE_RULES_STATE = "outside the model's population"
# Shown instead of "already lapsed" to a contact with no order or interaction at all (a lead
# from a list): it cannot have lapsed from what it never did.
NEVER_ENGAGED_STATE = "no orders or interactions yet"


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
    history: History = History.DATED
    # Within how many days the outcome must happen (0 only for a snapshot history: no dates).
    horizon_days: int = Field(default=0, ge=0, le=MAX_HORIZON_DAYS)
    # How a snapshot history's rows are divided; None: at random.
    split: SnapshotSplit | None = None
    # What a high score means, as a rep reads it under the worklist's heading.
    meaning: ShortText
    worklist: ShortText | None = None
    population: tuple[PopulationRule, ...] = ()
    features: tuple[str, ...] | None = None
    # The company's own contact fields the model also learns from, valued point-in-time
    # (`features.custom_inputs`).
    custom_fields: tuple[Annotated[str, Field(pattern=CUSTOM_FIELD_NAME)], ...] = Field(default=(), max_length=20)
    primary_metric: Literal["roc_auc", "average_precision", "precision_at_10"] = "roc_auc"
    min_improvement: float = Field(default=0.0, ge=0.0, le=1.0)
    # The outcome's own terms: which engagement counts (goes_quiet; default every order and
    # interaction), which stage (stage_reached), which custom field and value (field_value).
    engagement: tuple[Annotated[str, Field(pattern=ENGAGEMENT_KIND)], ...] | None = Field(default=None, min_length=1)
    stage: LifecycleStage | None = None
    field: Annotated[str, Field(pattern=CUSTOM_FIELD_NAME)] | None = None
    value: Annotated[str, Field(min_length=1, max_length=200)] | None = None

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
        unread = [rule.feature for rule in self.population if rule.feature not in self.feature_names]
        if unread:
            # Training reads the model's own features point-in-time: a rule on any other could
            # not be applied there, and training and scoring would judge different contacts.
            raise ValueError(f"population rules on features the model does not take: {', '.join(unread)}")
        self._outcome_terms_fit()
        self._custom_fields_fit()
        self._history_fits()
        return self

    def _history_fits(self) -> None:
        if self.history is History.DATED and self.horizon_days == 0:
            raise ValueError("horizon_days is needed: within how many days the outcome must happen")
        if self.history is History.SNAPSHOT:
            if self.outcome not in SNAPSHOT_OUTCOMES:
                raise ValueError(
                    f"a snapshot history labels a value a contact holds (stage_reached or field_value); "
                    f"{self.outcome.value} needs the dates of what happened"
                )
            if self.horizon_days:
                raise ValueError("a snapshot history has no dates, so no horizon_days")
        elif self.split is not None:
            raise ValueError("a dated history is always split by time: split is for a snapshot history")

    def _custom_fields_fit(self) -> None:
        if len(set(self.custom_fields)) != len(self.custom_fields):
            raise ValueError("custom_fields names a field twice")
        doubled = [name for name in self.custom_fields if "__" in name]
        if doubled:
            raise ValueError(f"custom fields with '__' in their name cannot be inputs: {', '.join(doubled)}")
        if self.outcome is Outcome.FIELD_VALUE and self.field in self.custom_fields:
            raise ValueError(f"custom field {self.field} is the outcome itself, so it cannot also be an input")

    def _outcome_terms_fit(self) -> None:
        """Each outcome takes its own terms and no other's, so a typo is named, not ignored."""
        takes = OUTCOME_TERMS.get(self.outcome, frozenset())
        given = {name for name in TERMS if getattr(self, name) is not None}
        if given - takes:
            raise ValueError(f"{', '.join(sorted(given - takes))}: not a term of the {self.outcome.value} outcome")
        needed = takes - given - {"engagement"}
        if needed:
            raise ValueError(f"the {self.outcome.value} outcome needs {' and '.join(sorted(needed))}")

    @property
    def label_field(self) -> tuple[str, str]:
        """The history field and value a stage_reached or field_value outcome is reached at."""
        if self.outcome is Outcome.STAGE_REACHED and self.stage is not None:
            return "lifecycle_stage", self.stage.value
        if self.outcome is Outcome.FIELD_VALUE and self.field is not None and self.value is not None:
            return f"custom.{self.field}", self.value
        raise ValueError(f"'{self.name}' predicts {self.outcome.value}, not a value being reached")

    @property
    def label_terms(self) -> dict[str, Any]:
        """What the outcome's label builder takes beyond the horizon, from the entry's terms."""
        if self.outcome is Outcome.GOES_QUIET:
            return {"engagement": self.engagement}
        if self.outcome in (Outcome.STAGE_REACHED, Outcome.FIELD_VALUE):
            field, value = self.label_field
            return {"field": field, "value": value}
        return {}

    def outcome_in_words(self) -> str:
        """What the label says, as a person reads it."""
        stage = self.stage.value if self.stage is not None else ""
        if self.history is History.SNAPSHOT:
            held = {
                Outcome.STAGE_REACHED: f"the lifecycle stage is {stage}",
                Outcome.FIELD_VALUE: f"custom field {self.field} is '{self.value}'",
            }
            return f"{held[self.outcome]} (the value held now: the history has no dates)"
        happens = {
            Outcome.GOES_QUIET: f"no {self._engagement_words()}",
            Outcome.DEAL_WON: "an open deal is won",
            Outcome.ORDER_PLACED: "an order",
            Outcome.STAGE_REACHED: f"the lifecycle stage becomes {stage}",
            Outcome.FIELD_VALUE: f"custom field {self.field} becomes '{self.value}'",
            Outcome.NEXT_PURCHASES: "the products bought next",
        }
        return f"{happens[self.outcome]} within {self.horizon_days} days"

    def population_in_words(self) -> str:
        """Who the model learns from and scores, as a person reads it: the outcome's own
        population, narrowed by the entry's feature rules."""
        by_outcome = {
            Outcome.GOES_QUIET: f"contacts with an {self._engagement_words()} in the 90 days before",
            Outcome.DEAL_WON: "contacts with a deal open",
            Outcome.ORDER_PLACED: "contacts who have ordered before",
            Outcome.STAGE_REACHED: f"contacts not {self.stage.value if self.stage else ''} yet",
            Outcome.FIELD_VALUE: f"contacts whose {self.field} is not '{self.value}' yet",
        }
        words = by_outcome.get(self.outcome, "every contact")
        if self.history is History.SNAPSHOT and self.outcome is Outcome.FIELD_VALUE:
            words = f"contacts with a {self.field} recorded (those not '{self.value}' are scored)"
        rules = " and ".join(rule.describe() for rule in self.population)
        return f"{words}, where {rules}" if rules else words

    @property
    def outside_state(self) -> str:
        """What a contact outside the outcome's population is shown instead of a score."""
        value_words = (
            f"{self.field} already '{self.value}', or not recorded"
            if self.history is History.SNAPSHOT
            else f"{self.field} is already '{self.value}'"
        )
        states = {
            Outcome.GOES_QUIET: "already lapsed",
            Outcome.DEAL_WON: "not a lead",
            Outcome.ORDER_PLACED: "not a customer yet",
            Outcome.STAGE_REACHED: f"already {self.stage.value if self.stage is not None else ''}",
            Outcome.FIELD_VALUE: value_words,
        }
        return states.get(self.outcome, "not scored")

    def inputs_in_words(self) -> str:
        """What the model learns from, as a person reads it."""
        features = "every contact feature" if self.features is None else ", ".join(self.features)
        if not self.custom_fields:
            return features
        return (
            f"{features}, and custom field{'s' if len(self.custom_fields) > 1 else ''} {', '.join(self.custom_fields)}"
        )

    def _engagement_words(self) -> str:
        return "order or interaction" if self.engagement is None else " or ".join(self.engagement)

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
    ),
    ModelEntry(
        name="recommend",
        kind=ModelKind.RECOMMENDER,
        title="Next best offer",
        outcome=Outcome.NEXT_PURCHASES,
        # A recommender's horizon is also the newest slice of purchases it is judged on.
        horizon_days=30,
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

    def custom_fields(self) -> list[str]:
        """Every custom field some scorer takes as an input, in first-named order."""
        return list(dict.fromkeys(name for entry in self.scorers() for name in entry.custom_fields))
