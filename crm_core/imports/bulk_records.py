"""Importing any record kind from a file: the one pipeline every kind goes through.

Map columns to fields, parse each field a column at a time (custom fields by their
definitions), resolve the records rows name (by external id, SKU or email), refuse bad rows
with their row number, field, reason and cell, then hand the good rows to the kind's loader.
Everything happens in the caller's unit of work: one transaction, so a crash leaves nothing
half-loaded. Records already present (same external id) are left as they are, so importing a
file twice adds and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import polars as pl

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.clock import IN_THE_FUTURE
from crm_core.entities import Base
from crm_core.errors import ValidationFailedError
from crm_core.imports.custom_columns import custom_column_name, parse_custom
from crm_core.imports.mapping import resolve_mapping, unfed_fields
from crm_core.imports.reading import file_digest
from crm_core.imports.references import Reference, resolve
from crm_core.imports.relative_dates import RelativeDates, dates_from_gaps
from crm_core.imports.typed_columns import ColumnOptions, FieldType, ImportField, empty_column, parse_column
from crm_core.schemas.imports import ImportProblem, ImportReport
from crm_core.services import audit
from crm_core.services.custom_fields import FieldDeclaration, declare_fields, definitions_of
from crm_core.services.rescoring import request_rescore
from crm_core.unit_of_work import UnitOfWork

ROW = "row"
EXTERNAL_ID = "external_id"
TEXT = ImportField()
TIMESTAMP = FieldType.TIMESTAMP
REFUSED = "refused"
VALUE_SHOWN = 200


@dataclass(frozen=True)
class LoadContext:
    uow: UnitOfWork
    principal: Principal
    now: datetime


@dataclass
class Loaded:
    inserted: int = 0
    merged: int = 0
    unchanged: int = 0
    duplicates_in_file: int = 0
    problems: list[ImportProblem] = field(default_factory=list)
    flagged: list[ImportProblem] = field(default_factory=list)
    details: dict[str, int] = field(default_factory=dict)


# A loader gets every parsed row (`row` numbers, typed fields, `refused` true where a cell was
# bad) and writes the good ones; a kind whose records span rows (an order's lines) refuses a
# record whole when any of its rows was refused.
Loader = Callable[[LoadContext, pl.DataFrame], Loaded]


@dataclass(frozen=True)
class RowRule:
    """A check across a row's fields: where `broken` holds, the row is refused at `field`."""

    field: str
    broken: pl.Expr
    reason: str


@dataclass(frozen=True)
class OneOf:
    """At least one of `fields` per row, and a mapping must feed one of them."""

    fields: tuple[str, ...]
    says: str = ""  # how a refusal words what is missing: "a name, an email or an external id"
    at: str = ""  # the field a refusal names (the first of `fields` the file has, by default)

    @property
    def reason(self) -> str:
        return f"needs {self.says or ' or '.join(self.fields)}"


Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class RecordKind:
    name: str  # what the file holds, as the command line says it: "orders"
    entity: str  # the policy's and audit trail's name: "order"
    model: type[Base]
    fields: dict[str, ImportField]
    loader: Loader
    references: dict[str, Reference] = field(default_factory=dict)
    one_of: Sequence[OneOf] = ()
    not_in_future: tuple[str, ...] = ()
    rules: tuple[RowRule, ...] = ()
    custom_fields_of: str | None = None  # the entity whose custom fields a file may feed


@dataclass(frozen=True)
class ImportMapping:
    """Which column feeds which field, how this file writes some of them, and the custom
    fields it brings (defined on import where the CRM lacks them)."""

    columns: dict[str, str] = field(default_factory=dict)
    options: dict[str, ColumnOptions] = field(default_factory=dict)
    custom_fields: list[FieldDeclaration] = field(default_factory=list)
    # A value every row takes, as a cell would give it (a file of leads all at stage "lead").
    constants: dict[str, str] = field(default_factory=dict)
    # For a file with no id column: each row's external id is this prefix and its row number,
    # so importing the same file again still matches every record it made.
    row_ids: str | None = None
    separator: str = ","  # a CSV's field separator
    # Timestamp fields the file gives no dates for, built from the days between a customer's
    # events (`crm_core.imports.relative_dates`).
    relative_dates: dict[str, RelativeDates] = field(default_factory=dict)

    def feed(self, kind: RecordKind, frame: pl.DataFrame, columns: dict[str, str]) -> pl.DataFrame:
        """The file's mapped columns, renamed to our fields, with the constants, row ids and
        relative dates added."""
        self._check_added(kind, frame, columns)
        rows = frame.height
        mapped = [frame[column].alias(name) for name, column in columns.items()]
        constant = [
            pl.repeat(value, rows, dtype=pl.String, eager=True).alias(name) for name, value in self.constants.items()
        ]
        numbered = (
            [pl.Series(EXTERNAL_ID, [f"{self.row_ids}{row}" for row in range(1, rows + 1)], dtype=pl.String)]
            if self.row_ids is not None
            else []
        )
        placed = [dates_from_gaps(frame, spec).alias(name) for name, spec in self.relative_dates.items()]
        return pl.DataFrame([*mapped, *constant, *numbered, *placed])

    def _check_added(self, kind: RecordKind, frame: pl.DataFrame, columns: dict[str, str]) -> None:
        """Refuse what the mapping adds that the kind or the file cannot take, naming it."""
        problems = []
        unknown = sorted(set(self.constants) - set(kind.fields))
        if unknown:
            problems.append(f"constants for {', '.join(unknown)}: not a field of {kind.name}")
        undated = sorted(name for name in self.relative_dates if kind.fields.get(name, TEXT).type is not TIMESTAMP)
        if undated:
            problems.append(f"relative dates for {', '.join(undated)}: not a date of {kind.name}")
        lacking = {column for spec in self.relative_dates.values() for column in spec.columns} - set(frame.columns)
        if lacking:
            problems.append(f"relative dates name columns the file lacks: {', '.join(sorted(lacking))}")
        if self.row_ids is not None and EXTERNAL_ID not in kind.fields:
            problems.append(f"row_ids: {kind.name} carry no external id")
        added = {*self.constants, *self.relative_dates, *([EXTERNAL_ID] if self.row_ids is not None else [])}
        both = sorted(added & set(columns))
        if both:
            problems.append(f"{', '.join(both)}: fed by a column and by the mapping at once")
        if problems:
            raise ValidationFailedError("mapping", "; ".join(problems))


def import_records(
    uow: UnitOfWork,
    principal: Principal,
    kind: RecordKind,
    frame: pl.DataFrame,
    *,
    mapping: ImportMapping | None = None,
    source: str,
    now: datetime,
    on_progress: Progress | None = None,
) -> ImportReport:
    """`on_progress(rows checked, rows)` is called once every row is checked, before the first write."""
    principal.require(kind.entity, Action.CREATE)
    mapping = mapping or ImportMapping()
    if mapping.custom_fields:
        if kind.custom_fields_of is None:
            raise ValidationFailedError("mapping", f"{kind.name} carry no custom fields")
        declare_fields(uow, principal, kind.custom_fields_of, mapping.custom_fields, now)
    definitions = definitions_of(uow, kind.custom_fields_of) if kind.custom_fields_of else {}
    custom_fields = [custom_column_name(name) for name in definitions]
    resolved = resolve_mapping(frame.columns, [*kind.fields, *custom_fields], mapping.columns)
    unknown = sorted(set(mapping.options) - set(kind.fields))
    if unknown:
        raise ValidationFailedError(
            "mapping", f"{', '.join(unknown)}: not a field of {kind.name} ({', '.join(kind.fields)})"
        )
    raw = mapping.feed(kind, frame, resolved)
    _require_fed(kind, raw.columns, frame.columns)
    parsed, problems = _parse(kind, raw, mapping)
    if kind.custom_fields_of is not None:
        custom, reasons = parse_custom(definitions, raw)
        parsed = parsed.with_columns(custom)
        for name, why in reasons.items():
            problems.extend(_problems_of(raw, name, why))
    parsed, problems = _link(uow, principal, kind, raw, parsed, problems)
    problems.extend(_future(kind, raw, parsed, now))
    problems.extend(_broken_rules(kind, raw, parsed))
    refused_rows = {problem.row for problem in problems}
    parsed = parsed.with_columns(pl.col(ROW).is_in(list(refused_rows)).alias(REFUSED))
    if on_progress is not None:
        on_progress(frame.height, frame.height)
    loaded = kind.loader(LoadContext(uow, principal, now), parsed)
    if "contact_id" in parsed.columns:
        request_rescore(uow, parsed.filter(~pl.col(REFUSED))["contact_id"].unique().to_list(), now=now)
    rejected = sorted([*problems, *loaded.problems], key=lambda problem: (problem.row, problem.field))
    report = ImportReport(
        source=source,
        kind=kind.name,
        file_sha256=file_digest(frame),
        rows=frame.height,
        inserted=loaded.inserted,
        merged=loaded.merged,
        unchanged=loaded.unchanged,
        duplicates_in_file=loaded.duplicates_in_file,
        rejected=rejected,
        flagged=sorted(loaded.flagged, key=lambda problem: problem.row),
        details=loaded.details,
    )
    audit.record(
        uow,
        principal,
        action=f"{kind.entity}.import",
        entity=kind.entity,
        changed_fields=sorted(raw.columns),
        details=report.model_dump(include={"source", "kind", "file_sha256", "rows", "inserted", "merged", "unchanged"})
        | {"rejected": len(rejected), "flagged": len(loaded.flagged), "duplicates_in_file": loaded.duplicates_in_file}
        | loaded.details,
        at=now,
    )
    return report


def _require_fed(kind: RecordKind, fed: list[str], columns: list[str]) -> None:
    missing = [name for name, spec in kind.fields.items() if spec.required and name not in fed]
    missing += [" or ".join(group.fields) for group in kind.one_of if not set(group.fields) & set(fed)]
    if missing:
        raise ValidationFailedError("mapping", unfed_fields(missing, columns))


def _parse(kind: RecordKind, raw: pl.DataFrame, mapping: ImportMapping) -> tuple[pl.DataFrame, list[ImportProblem]]:
    columns = [pl.Series(ROW, range(1, raw.height + 1), dtype=pl.Int64)]
    problems: list[ImportProblem] = []
    for name, spec in kind.fields.items():
        if name not in raw.columns:
            if spec.required:
                continue
            columns.append(empty_column(name, spec, raw.height))
            continue
        parsed = parse_column(name, spec, raw[name], mapping.options.get(name, ColumnOptions()))
        columns.append(parsed.values)
        problems.extend(_problems_of(raw, name, parsed.problems))
    typed = pl.DataFrame(columns)
    for group in kind.one_of:
        present = [name for name in group.fields if name in raw.columns]
        none_given = raw.select(pl.all_horizontal([pl.col(name).is_null() for name in present])).to_series()
        reasons = pl.select(pl.when(none_given).then(pl.lit(group.reason))).to_series()
        problems.extend(_problems_of(raw, group.at or present[0], reasons))
    return typed, problems


def _problems_of(raw: pl.DataFrame, name: str, reasons: pl.Series) -> list[ImportProblem]:
    if reasons.null_count() == raw.height:
        return []
    cells = raw[name] if name in raw.columns else pl.Series([None] * raw.height, dtype=pl.String)
    found = pl.DataFrame(
        {ROW: pl.Series(range(1, raw.height + 1), dtype=pl.Int64), "reason": reasons, "value": cells}
    ).filter(pl.col("reason").is_not_null())
    return [
        ImportProblem(row=row, field=name, reason=reason, value=None if value is None else value[:VALUE_SHOWN])
        for row, reason, value in found.iter_rows()
    ]


def _link(
    uow: UnitOfWork,
    principal: Principal,
    kind: RecordKind,
    raw: pl.DataFrame,
    parsed: pl.DataFrame,
    problems: list[ImportProblem],
) -> tuple[pl.DataFrame, list[ImportProblem]]:
    """Each reference field becomes the id it names; several fields may feed one id (a contact by
    external id or by email): the first one given wins."""
    ids: dict[str, pl.Series] = {}
    for name, reference in kind.references.items():
        if name not in raw.columns:
            continue
        found = resolve(uow, principal, kind.entity, reference, parsed[name])
        linked = parsed[name].replace_strict(found, default=None, return_dtype=pl.Int64)
        missing = parsed[name].is_not_null() & linked.is_null()
        reasons = pl.select(pl.when(missing).then(pl.lit(f"no {reference.what} {{}} in reach"))).to_series()
        for problem in _problems_of(raw, name, reasons):
            problem.reason = problem.reason.replace("{}", repr(problem.value))
            problems.append(problem)
        earlier = ids.get(reference.id_field)
        ids[reference.id_field] = linked if earlier is None else earlier.fill_null(linked)
    for id_field in {reference.id_field for reference in kind.references.values()}:
        parsed = parsed.with_columns(
            ids.get(id_field, pl.Series([None] * parsed.height, dtype=pl.Int64)).alias(id_field)
        )
    return parsed, problems


def _future(kind: RecordKind, raw: pl.DataFrame, parsed: pl.DataFrame, now: datetime) -> list[ImportProblem]:
    problems: list[ImportProblem] = []
    for name in kind.not_in_future:
        if name in raw.columns:
            reasons = pl.select(pl.when(parsed[name] > now).then(pl.lit(IN_THE_FUTURE))).to_series()
            problems.extend(_problems_of(raw, name, reasons))
    return problems


def _broken_rules(kind: RecordKind, raw: pl.DataFrame, parsed: pl.DataFrame) -> list[ImportProblem]:
    problems: list[ImportProblem] = []
    for rule in kind.rules:
        reasons = parsed.select(pl.when(rule.broken.fill_null(False)).then(pl.lit(rule.reason))).to_series()
        problems.extend(_problems_of(raw, rule.field, reasons))
    return problems
