"""Custom fields: typed values an organisation adds to contacts, accounts and deals.

Values are stored in the record's `custom` JSON in a canonical form (numbers as numbers, dates
as ISO strings, choices as one of their options), so filters and the feature pipeline read one
spelling, and a write that does not fit its definition is refused with the field named.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import ColumnElement, select

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.entities import CustomFieldDefinition, CustomFieldType
from crm_core.errors import ConflictError, ValidationFailedError
from crm_core.normalise import parse_timestamp
from crm_core.services import audit
from crm_core.unit_of_work import UnitOfWork

CARRIERS = ("contact", "account", "deal")
NAME = re.compile(r"^[a-z][a-z0-9_]{0,59}$")
MAX_TEXT = 1_000
TRUE_WORDS, FALSE_WORDS = {"true", "yes", "y", "1"}, {"false", "no", "n", "0"}


def define_field(
    uow: UnitOfWork,
    principal: Principal,
    *,
    entity: str,
    name: str,
    label: str,
    field_type: CustomFieldType,
    choices: list[str] | None,
    now: datetime,
) -> CustomFieldDefinition:
    principal.require("custom_field", Action.CREATE)
    if entity not in CARRIERS:
        raise ValidationFailedError("entity", f"custom fields go on {', '.join(CARRIERS)}")
    if not NAME.match(name):
        raise ValidationFailedError("name", "is lower_snake_case, starting with a letter, at most 60 characters")
    if (field_type is CustomFieldType.CHOICE) != bool(choices):
        raise ValidationFailedError("choices", "are given for choice fields, and only for them")
    if choices is not None and len(set(choices)) != len(choices):
        raise ValidationFailedError("choices", "are listed once each")
    if uow.session.scalar(definition_query(entity).where(CustomFieldDefinition.name == name)) is not None:
        raise ConflictError("name", f"{entity} already has a custom field '{name}'")
    definition = CustomFieldDefinition(
        entity=entity, name=name, label=label, type=field_type.value, choices=choices, created_at=now
    )
    uow.session.add(definition)
    uow.session.flush()
    audit.record(uow, principal, action="custom_field.create", entity="custom_field", entity_id=definition.id, at=now)
    return definition


@dataclass(frozen=True)
class FieldDeclaration:
    """A custom field as an import's mapping declares it."""

    name: str
    type: CustomFieldType
    label: str
    choices: list[str] | None = None


def declare_fields(
    uow: UnitOfWork, principal: Principal, entity: str, declared: Sequence[FieldDeclaration], now: datetime
) -> None:
    """Define each declared field the CRM lacks; one it has must be of the declared type and
    hold every declared choice, or the import is refused naming the difference (a file never
    redefines a field other records already use)."""
    existing = definitions_of(uow, entity)
    for wanted in declared:
        held = existing.get(wanted.name)
        if held is None:
            define_field(
                uow, principal, entity=entity, name=wanted.name, label=wanted.label,
                field_type=wanted.type, choices=wanted.choices, now=now,
            )  # fmt: skip
            continue
        if held.type != wanted.type.value:
            raise ValidationFailedError(
                f"custom.{wanted.name}", f"is already a {held.type} field; the mapping declares {wanted.type.value}"
            )
        missing = [choice for choice in wanted.choices or [] if choice not in (held.choices or [])]
        if missing:
            raise ValidationFailedError(f"custom.{wanted.name}", f"has no choice {', '.join(missing)}")


def definition_query(entity: str) -> Any:
    return select(CustomFieldDefinition).where(CustomFieldDefinition.entity == entity)


def definitions_of(uow: UnitOfWork, entity: str) -> dict[str, CustomFieldDefinition]:
    return {d.name: d for d in uow.session.scalars(definition_query(entity).order_by(CustomFieldDefinition.id))}


def _text(value: Any, _choices: list[str] | None) -> str:
    if not isinstance(value, str) or len(value) > MAX_TEXT:
        raise ValueError(f"is text of at most {MAX_TEXT} characters")
    return value


def _boolean(value: Any, _choices: list[str] | None) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in TRUE_WORDS | FALSE_WORDS:
        return value.lower() in TRUE_WORDS
    raise ValueError("is true or false")


def _float(value: Any, _choices: list[str] | None) -> float:
    if isinstance(value, bool):
        raise ValueError("is a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError("is a number") from None
    if not math.isfinite(number):
        raise ValueError("is a finite number")
    return number


def _integer(value: Any, choices: list[str] | None) -> int:
    try:
        number = _float(value, choices)
    except ValueError:
        raise ValueError("is an integer") from None
    if not number.is_integer():
        raise ValueError("is an integer")
    return int(number)


def _date(value: Any, _choices: list[str] | None) -> str:
    if isinstance(value, date):
        return value.isoformat()[:10]
    if isinstance(value, str):
        return parse_timestamp(value).date().isoformat()
    raise ValueError("is a date (YYYY-MM-DD)")


def _choice(value: Any, choices: list[str] | None) -> str:
    if value not in (choices or []):
        raise ValueError(f"is one of: {', '.join(choices or [])}")
    return str(value)


COERCERS: dict[CustomFieldType, Callable[[Any, list[str] | None], Any]] = {
    CustomFieldType.TEXT: _text,
    CustomFieldType.BOOLEAN: _boolean,
    CustomFieldType.NUMBER: _float,
    CustomFieldType.INTEGER: _integer,
    CustomFieldType.DATE: _date,
    CustomFieldType.CHOICE: _choice,
}


def coerce(definition: CustomFieldDefinition, value: Any) -> Any:
    """The canonical stored form of `value`, or ValueError saying why it does not fit."""
    text = value.strip() if isinstance(value, str) else value
    return COERCERS[CustomFieldType(definition.type)](text, definition.choices)


def merge_custom(
    definitions: Mapping[str, CustomFieldDefinition], current: Mapping[str, Any] | None, changes: Mapping[str, Any]
) -> dict[str, Any]:
    """`current` with `changes` applied (a None value clears a field), every value checked."""
    merged = dict(current or {})
    for name, value in changes.items():
        definition = definitions.get(name)
        if definition is None:
            raise ValidationFailedError(f"custom.{name}", "is not a defined custom field")
        if value is None:
            merged.pop(name, None)
            continue
        try:
            merged[name] = coerce(definition, value)
        except ValueError as error:
            raise ValidationFailedError(f"custom.{name}", str(error)) from None
    return merged


def custom_filters(uow: UnitOfWork, entity: str, column: Any, pairs: list[str] | None) -> list[ColumnElement[bool]]:
    """`name=value` equality filters on custom fields, compared in the field's own type."""
    if not pairs:
        return []
    definitions = definitions_of(uow, entity)
    filters: list[ColumnElement[bool]] = []
    for pair in pairs:
        name, separator, raw = pair.partition("=")
        if not separator:
            raise ValidationFailedError("custom", f"'{pair}' is not name=value")
        stored = merge_custom(definitions, {}, {name: raw})[name]
        accessor = column[name]
        if isinstance(stored, bool):
            filters.append(accessor.as_boolean() == stored)
        elif isinstance(stored, int | float):
            filters.append(accessor.as_float() == float(stored))
        else:
            filters.append(accessor.as_string() == stored)
    return filters
