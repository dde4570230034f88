"""The exception tree of crm_core: domain errors, mapped to HTTP only at the API edge."""

from __future__ import annotations


class CrmError(Exception):
    """Base of every error crm_core raises on purpose."""


class NotFoundError(CrmError):
    def __init__(self, entity: str, entity_id: object) -> None:
        super().__init__(f"{entity} {entity_id} not found")
        self.entity = entity
        self.entity_id = entity_id


class InvalidPredictionError(CrmError):
    """A prediction row that must not be stored; says which row and field, and why."""

    def __init__(self, row: int, field: str, reason: str) -> None:
        super().__init__(f"prediction row {row}: field '{field}' {reason}")
        self.row = row
        self.field = field
        self.reason = reason


class DatabaseNotEmptyError(CrmError):
    """Refuses to mix generated demo data into a CRM that already holds records."""
