"""One import row of a contact, validated and normalised; the fields a file may feed."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ConfigDict, Field, field_validator, model_validator

from crm_core.normalise import normalise_email, normalise_phone, parse_timestamp, valid_email
from crm_core.schemas.common import ExternalId, NoNulInput
from crm_core.schemas.records import LifecycleStage


class ContactImportRow(NoNulInput):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True)

    external_id: ExternalId | None = None
    first_name: str = Field(default="", max_length=100)
    last_name: str = Field(default="", max_length=100)
    email: str | None = Field(default=None, max_length=320)
    phone: str | None = None
    address: str | None = Field(default=None, max_length=500)
    notes: str | None = Field(default=None, max_length=5000)
    lifecycle_stage: LifecycleStage = LifecycleStage.LEAD
    account: str | None = Field(default=None, max_length=200, description="account name; created if new")
    owner_email: str | None = Field(default=None, max_length=320)
    created_at: datetime | None = None
    custom: dict[str, Any] = Field(default_factory=dict, description="checked against definitions by the importer")

    @model_validator(mode="after")
    def _someone(self) -> ContactImportRow:
        """A customer export may carry only an id or only an email: one of those or a name is enough."""
        if not (self.first_name or self.last_name or self.email or self.external_id):
            raise ValueError("needs a name, an email or an external id")
        return self

    @field_validator("email")
    @classmethod
    def _email(cls, value: str | None) -> str | None:
        if value is None:
            return None
        address = normalise_email(value)
        if not valid_email(address):
            raise ValueError("is not an email address")
        return address

    @field_validator("phone")
    @classmethod
    def _phone(cls, value: str | None) -> str | None:
        return None if value is None else normalise_phone(value)

    @field_validator("owner_email")
    @classmethod
    def _owner(cls, value: str | None) -> str | None:
        return None if value is None else normalise_email(value)

    @field_validator("lifecycle_stage", mode="before")
    @classmethod
    def _stage(cls, value: object) -> object:
        return value.strip().lower() if isinstance(value, str) else value

    @field_validator("created_at", mode="before")
    @classmethod
    def _created(cls, value: object) -> object:
        return parse_timestamp(value) if isinstance(value, str) else value


IMPORTABLE_CONTACT_FIELDS = tuple(ContactImportRow.model_fields)
# Fields a later row may fill in when an earlier row (or the stored contact) left them empty
# (a name an ID-only export left out is empty text, not null).
MERGEABLE = ("external_id", "first_name", "last_name", "email", "phone", "address", "notes", "account", "created_at")
