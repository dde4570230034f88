"""Who each model is for at a date, defined once from the CRM's history.

A model learns from the contacts in its population at each training date and is only ever
asked about contacts in the same population: the label builders take their rows from here,
and the feature build writes the population at the newest snapshot beside it, which batch
scoring, the drift check and the lists read. A contact outside it gets the outcome's stated
reason ("already lapsed", "not a lead") instead of a score from a model that never saw its kind.

Per outcome: going quiet is for contacts engaged (by the kinds that count) in the 90 days
before; a deal won for contacts with a deal open; an order for contacts who have ordered; a
stage or custom value reached for contacts that do not hold it yet. A catalogue entry's own
feature rules narrow this further, applied to the same features in training and in scoring.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal

import polars as pl

from crm_core.errors import CrmError
from crm_core.exports import CrmExport
from features.catalogue import NEVER_ENGAGED_STATE, OUTSIDE_RULES_STATE, Catalogue, History, ModelEntry, Outcome
from features.schema import ENTITY_KEY, EVENT_TIMESTAMP
from features.snapshots import newest_snapshot

ENGAGED_LOOKBACK_DAYS = 90
ORDER = "order"  # an engagement kind: an order, beside the activity types
MODEL_NAME = "model_name"
STATE = "state"
POPULATIONS_SCHEMA = pl.Schema({MODEL_NAME: pl.String(), ENTITY_KEY: pl.Int64(), EVENT_TIMESTAMP: pl.Datetime("us")})


class PopulationUnknownError(CrmError, LookupError):
    """Batch scoring found no population for a model at the snapshot it scores: the catalogue
    changed, or features were built by an older version, after the last feature build."""

    def __init__(self, model_name: str) -> None:
        super().__init__(
            f"no population for model '{model_name}' at the newest feature snapshot: "
            "run `crm-intel build-features` so the snapshot and the populations are taken together"
        )


def engagement_times(export: CrmExport, engagement: tuple[str, ...] | None) -> pl.LazyFrame:
    """(contact_id, at) for each engagement: orders and activities, or only the kinds named
    (activity types as the CRM stores them, and "order")."""
    activities = export.activities.lazy()
    if engagement is not None:
        activities = activities.filter(pl.col("type").is_in(list(engagement)))
    frames = [activities.select(ENTITY_KEY, pl.col("occurred_at").alias("at"))]
    if engagement is None or ORDER in engagement:
        frames.append(export.orders.lazy().select(ENTITY_KEY, pl.col("ordered_at").alias("at")))
    return pl.concat(frames)


def deals_open_at(export: CrmExport, as_of: datetime) -> pl.LazyFrame:
    """Deals opened by `as_of` and not closed by then."""
    return export.deals.lazy().filter(
        (pl.col("opened_at") <= as_of) & (pl.col("closed_at").is_null() | (pl.col("closed_at") > as_of))
    )


def values_held_at(export: CrmExport, field: str, as_of: datetime) -> pl.LazyFrame:
    """(contact_id, value) of each contact's newest change of `field` by `as_of` (a null value:
    cleared)."""
    return (
        export.contact_changes.lazy()
        .filter((pl.col("field") == field) & (pl.col("changed_at") <= as_of))
        .group_by(ENTITY_KEY)
        .agg(pl.col("value").sort_by("changed_at").last())
    )


def value_held_at(export: CrmExport, field: str, value: str, as_of: datetime) -> pl.LazyFrame:
    """Contacts whose newest change of `field` by `as_of` set it to `value`."""
    return values_held_at(export, field, as_of).filter(pl.col("value") == value).select(ENTITY_KEY)


def held_at(export: CrmExport, entry: ModelEntry, as_of: datetime) -> pl.LazyFrame:
    """(contact_id, value) of the contacts a snapshot history speaks of at `as_of`, with the
    value each holds of the outcome's field: every contact existing then for a stage (null: no
    stage recorded), only those the list recorded a value for, for a custom field. Training
    labels these rows and scoring takes the same ones, so the two judge the same contacts."""
    field, _ = entry.label_field
    existing = export.contacts.lazy().filter(pl.col("created_at") <= as_of).select(ENTITY_KEY)
    recorded = values_held_at(export, field, as_of).filter(pl.col("value").is_not_null())
    how: Literal["inner", "left"] = "inner" if entry.outcome is Outcome.FIELD_VALUE else "left"
    return existing.join(recorded, on=ENTITY_KEY, how=how)


def population_at(export: CrmExport, entry: ModelEntry, as_of: datetime) -> pl.LazyFrame:
    """The contact ids (one column, unique) `entry` is for at `as_of`, by its outcome."""
    if entry.outcome is Outcome.GOES_QUIET:
        engaged = engagement_times(export, entry.engagement).filter(
            (pl.col("at") <= as_of) & (pl.col("at") > as_of - timedelta(days=ENGAGED_LOOKBACK_DAYS))
        )
        return engaged.select(ENTITY_KEY).unique()
    if entry.outcome is Outcome.DEAL_WON:
        return deals_open_at(export, as_of).select(ENTITY_KEY).unique()
    if entry.outcome is Outcome.ORDER_PLACED:
        return export.orders.lazy().filter(pl.col("ordered_at") <= as_of).select(ENTITY_KEY).unique()
    if entry.outcome in (Outcome.STAGE_REACHED, Outcome.FIELD_VALUE):
        field, value = entry.label_field
        if entry.history is History.SNAPSHOT:
            # The contacts the history speaks of, less those holding the outcome already.
            held = held_at(export, entry, as_of)
            return held.filter(pl.col("value").ne_missing(pl.lit(value))).select(ENTITY_KEY)
        existing = export.contacts.lazy().filter(pl.col("created_at") <= as_of).select(ENTITY_KEY)
        return existing.join(value_held_at(export, field, value, as_of), on=ENTITY_KEY, how="anti")
    raise ValueError(f"'{entry.name}' is a {entry.kind.value}: it ranks products for every contact")


def populations_at(export: CrmExport, catalogue: Catalogue, as_of: datetime) -> pl.DataFrame:
    """Every scorer's population at `as_of`, as (model_name, contact_id, event_timestamp) rows,
    plus one row per model with no contact: the build covered it even when no one is in it."""
    frames = [
        pl.concat(
            [
                population_at(export, entry, as_of).select(pl.col(ENTITY_KEY).cast(pl.Int64)),
                pl.LazyFrame({ENTITY_KEY: [None]}, schema={ENTITY_KEY: pl.Int64()}),
            ]
        ).select(
            pl.lit(entry.name).alias(MODEL_NAME),
            ENTITY_KEY,
            pl.lit(as_of).cast(pl.Datetime("us")).alias(EVENT_TIMESTAMP),
        )
        for entry in catalogue.scorers()
    ]
    if not frames:
        return pl.DataFrame(schema=POPULATIONS_SCHEMA)
    return pl.concat(pl.collect_all(frames)).sort(MODEL_NAME, ENTITY_KEY, nulls_last=True)


def read_population(path: Path, model_name: str, as_of: datetime) -> pl.DataFrame:
    """The contact ids of `model_name`'s population at `as_of`, as the feature build wrote them."""
    if not path.exists():
        raise PopulationUnknownError(model_name)
    stored = (
        pl.scan_parquet(path)
        .filter((pl.col(MODEL_NAME) == model_name) & (pl.col(EVENT_TIMESTAMP) == as_of))
        .select(ENTITY_KEY)
        .collect()
    )
    if stored.is_empty():  # not even the model's covered row: built before the model existed
        raise PopulationUnknownError(model_name)
    return stored.drop_nulls()


@dataclass(frozen=True)
class NewestPopulation:
    """The newest feature snapshot split by one model's population: the rows it scores, and a
    stated reason for every other contact of the snapshot."""

    as_of: datetime
    members: pl.DataFrame  # the snapshot's rows (every feature column) of the population
    outside: pl.DataFrame  # (contact_id, state) for the snapshot's other contacts


def state_expr(entry: ModelEntry, members: pl.Series) -> pl.Expr:
    """Over rows of `entry`'s features: the reason a contact is outside its population (the
    outcome's first, then the entry's own rules), or null for a member."""
    rules = entry.population_expr()
    outside = ~pl.col(ENTITY_KEY).is_in(members.implode())
    # Going quiet by every kind of engagement: the recency features (when the model takes them,
    # so online and batch rows both hold them) say who never engaged.
    recency = ("days_since_last_activity", "days_since_last_order")
    tells = entry.outcome is Outcome.GOES_QUIET and entry.engagement is None
    never = (
        pl.all_horizontal(pl.col(name).is_null() for name in recency)
        if tells and all(name in entry.feature_names for name in recency)
        else pl.lit(False)
    )
    return (
        pl.when(outside & never)
        .then(pl.lit(NEVER_ENGAGED_STATE))
        .when(outside)
        .then(pl.lit(entry.outside_state))
        .when(~(rules.fill_null(False) if rules is not None else pl.lit(True)))
        .then(pl.lit(OUTSIDE_RULES_STATE))
        .otherwise(pl.lit(None, dtype=pl.String))
    )


def newest_population(snapshot_path: Path, population_path: Path, entry: ModelEntry) -> NewestPopulation:
    """`entry`'s population at the newest snapshot: the outcome's population the feature build
    wrote, narrowed by the entry's feature rules (as training narrows its rows)."""
    as_of, rows = newest_snapshot(snapshot_path)
    newest = rows.collect().sort(ENTITY_KEY)
    members = read_population(population_path, entry.name, as_of)[ENTITY_KEY]
    stated = newest.with_columns(state_expr(entry, members).alias(STATE))
    return NewestPopulation(
        as_of=as_of,
        members=stated.filter(pl.col(STATE).is_null()).drop(STATE),
        outside=stated.filter(pl.col(STATE).is_not_null()).select(ENTITY_KEY, STATE),
    )


# Who of some contacts an entry is for at a moment no build covered: live rescoring's rows.
LiveMembers = Callable[[ModelEntry, list[int], datetime], pl.Series]


def stated_outside(entry: ModelEntry, members: pl.Series, features: pl.DataFrame) -> dict[int, str]:
    """For rows of `entry`'s features: each contact not among `members` or outside the entry's
    rules, with its reason (the expression batch scoring applies)."""
    stated = features.select(ENTITY_KEY, state_expr(entry, members).alias(STATE)).drop_nulls(STATE)
    return dict(stated.iter_rows())


class PopulationBook:
    """The populations file held in memory for online scoring, read again whenever the feature
    build replaces it: a request asks about a few contacts, not the whole file. Rows computed
    live after a write carry a moment the file does not cover: `live` answers for those."""

    def __init__(self, path: Path, live: LiveMembers | None = None) -> None:
        self._path = path
        self._live = live
        self._read: tuple[float, dict[tuple[str, datetime], pl.Series]] | None = None
        self._moments: tuple[float, frozenset[datetime]] | None = None

    def _version(self) -> float | None:
        """The file's modification time (None: no file), which says when to read it again."""
        try:
            return self._path.stat().st_mtime
        except FileNotFoundError:
            return None

    def members(self, model_name: str, as_of: datetime) -> pl.Series:
        """`model_name`'s population at `as_of`; PopulationUnknownError when it was not built."""
        changed = self._version()
        if changed is None:
            raise PopulationUnknownError(model_name)
        if self._read is None or self._read[0] != changed:
            self._read = (changed, {})
        held = self._read[1]
        if (model_name, as_of) not in held:
            held[(model_name, as_of)] = read_population(self._path, model_name, as_of)[ENTITY_KEY]
        return held[(model_name, as_of)]

    def outside(self, entry: ModelEntry, features: pl.DataFrame) -> dict[int, str]:
        """For rows of `entry`'s features: each contact outside the population, with its reason,
        judged at the moment its row was computed (a nightly snapshot, or a live rescore)."""
        moments = features[EVENT_TIMESTAMP]
        earliest, latest = moments.min(), moments.max()
        if earliest == latest:  # one snapshot (most requests): no grouping to pay for
            if not isinstance(latest, datetime):
                return {}
            return stated_outside(entry, self._members_at(entry, features, latest), features)
        stated: dict[int, str] = {}
        for (as_of,), rows in features.group_by(EVENT_TIMESTAMP):
            if isinstance(as_of, datetime):
                stated |= stated_outside(entry, self._members_at(entry, rows, as_of), rows)
        return stated

    def _built_moments(self) -> frozenset[datetime]:
        """The moments the file holds populations at, read once per version of the file."""
        changed = self._version()
        if changed is None:
            return frozenset()
        if self._moments is None or self._moments[0] != changed:
            dates = pl.scan_parquet(self._path).select(pl.col(EVENT_TIMESTAMP).unique()).collect().to_series()
            self._moments = (changed, frozenset(dates.to_list()))
        return self._moments[1]

    def _members_at(self, entry: ModelEntry, rows: pl.DataFrame, as_of: datetime) -> pl.Series:
        def live() -> pl.Series:
            assert self._live is not None
            return self._live(entry, [int(contact_id) for contact_id in rows[ENTITY_KEY]], as_of)

        if self._live is not None and as_of not in self._built_moments():
            return live()  # a live rescore's moment: no build holds it, so the file is not scanned for it
        try:
            return self.members(entry.name, as_of)
        except PopulationUnknownError:
            if self._live is None:
                raise
            return live()
