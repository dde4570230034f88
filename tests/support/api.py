"""What the CRM API documents about itself, read the way clients read it."""

from __future__ import annotations

from crm_core.api import create_api


def operations() -> dict[tuple[str, str], str]:
    """(METHOD, path) -> "entity:action" for every operation the API documents."""
    found = {}
    for path, methods in create_api().openapi()["paths"].items():
        for method, operation in methods.items():
            found[(method.upper(), path)] = operation["x-policy"]
    return found
