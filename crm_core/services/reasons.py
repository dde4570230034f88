"""Which stored reasons a viewer may read: a reason speaks about its source, so it follows the
source's rules. A factor from tickets is shown only to who may read tickets; one computed from
a personal field only to roles that see that field in full."""

from __future__ import annotations

from typing import Any

from crm_core.auth.policy import SENSITIVE_FIELDS, Action, Scope, Visibility, visibility_of
from crm_core.auth.principal import Principal

# Reasons written before sources were recorded describe contact features.
DEFAULT_SOURCE = "contact"


def may_read_source(principal: Principal, source: str) -> bool:
    entity, _, field = source.partition(".")
    if principal.scope(entity, Action.READ) is Scope.NONE:
        return False
    if field in SENSITIVE_FIELDS.get(entity, ()):
        return visibility_of(principal.role) is Visibility.FULL
    return True


def visible_reasons(principal: Principal, factors: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [f for f in factors if may_read_source(principal, str(f.get("source", DEFAULT_SOURCE)))]
