"""Masked forms of personal fields: enough to recognise a record, not enough to contact anyone.

Free text (address, notes) has no safe partial form, so masking it hides it whole.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from crm_core.auth.policy import SENSITIVE_FIELDS, Visibility, visibility_of

MASK = "***"


def mask_email(email: str) -> str:
    local, _, domain = email.partition("@")
    return f"{local[:1]}{MASK}@{domain}" if domain else MASK


def mask_phone(phone: str) -> str:
    digits = [character for character in phone if character.isdigit()]
    return f"{MASK}{''.join(digits[-2:])}"


MASKERS: dict[str, Callable[[str], str | None]] = {
    "email": mask_email,
    "phone": mask_phone,
    "address": lambda _value: None,
    "notes": lambda _value: None,
}


def disclose(entity: str, values: dict[str, Any], role: str) -> dict[str, Any]:
    """`values` with each sensitive field of `entity` shown, masked or hidden for `role`."""
    sensitive = SENSITIVE_FIELDS.get(entity, ())
    visibility = visibility_of(role)
    if not sensitive or visibility is Visibility.FULL:
        return values
    shown = dict(values)
    for name in sensitive:
        value = shown.get(name)
        if value is None:
            continue
        shown[name] = MASKERS[name](value) if visibility is Visibility.MASKED else None
    return shown
