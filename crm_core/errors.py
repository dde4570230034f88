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


class AuthenticationError(CrmError):
    """Missing, unknown, expired or revoked credentials (HTTP 401)."""


class LoginThrottledError(CrmError):
    """Too many failed logins for an account in the window (HTTP 429)."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"too many failed logins; try again in {retry_after_seconds} s")
        self.retry_after_seconds = retry_after_seconds


class ForbiddenError(CrmError):
    """The caller's role may never perform this action on this kind of record (HTTP 403)."""


class ValidationFailedError(CrmError):
    """Input that breaks a business rule, naming the field and why (HTTP 422)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field '{field}' {reason}")
        self.field = field
        self.reason = reason


class ConflictError(CrmError):
    """The change collides with an existing record, e.g. a duplicate email (HTTP 409)."""

    def __init__(self, field: str, reason: str) -> None:
        super().__init__(f"field '{field}' {reason}")
        self.field = field
