"""Shapes shared by every list endpoint."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any, Generic, TypeVar

from annotated_types import Ge, Le
from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, StringConstraints, model_validator

from crm_core.clock import as_naive_utc
from crm_core.text_safety import input_problem, stored_json

T = TypeVar("T")


def _aware_utc(moment: datetime) -> datetime:
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


EARLIEST, LATEST = datetime(1900, 1, 1), datetime(2200, 1, 1)


def _naive_utc(moment: datetime) -> datetime:
    """Naive UTC within the years a CRM can mean (and every database can store)."""
    try:
        naive = as_naive_utc(moment)
    except OverflowError:
        raise ValueError("is outside the supported dates (1900 to 2199)") from None
    if not EARLIEST <= naive < LATEST:
        raise ValueError("is outside the supported dates (1900 to 2199)")
    return naive


# The database keeps naive UTC; the API speaks RFC 3339. Responses carry an explicit UTC offset,
# and request timestamps with an offset are converted to UTC (naive ones are taken as UTC).
UtcDateTime = Annotated[datetime, AfterValidator(_aware_utc)]
InUtc = Annotated[datetime, AfterValidator(_naive_utc)]

# Record ids as clients may send them: positive and within the database's integer range (a
# larger number would fail inside the driver instead of answering "not found").
MAX_RECORD_ID = 2**31 - 1
RecordId = Annotated[int, Ge(1), Le(MAX_RECORD_ID)]

# A record's id in the system it came from (another CRM, a shop, a billing system): unique per
# record kind, so imports match on it and records name each other by it. Printable text only.
ExternalId = Annotated[
    str, StringConstraints(strip_whitespace=True, min_length=1, max_length=120, pattern=r"^[^\x00-\x1f\x7f]+$")
]
EXTERNAL_ID = Field(default=None, description="the record's id in the system it came from; unique per record kind")

MAX_PAGE_SIZE = 200
DEFAULT_PAGE_SIZE = 50


class Page(BaseModel, Generic[T]):
    """One page of results; pass `next_cursor` back to get the next one (null on the last)."""

    items: list[T]
    next_cursor: str | None


CustomValue = str | bool | int | float | None
CUSTOM = Field(default=None, description="custom field values by name; null clears one")
# A free-form JSON object to store (activity properties): bounded in depth and size.
StoredJson = Annotated[dict[str, Any], AfterValidator(stored_json)]
# Custom values as stored (records written before custom fields existed hold none).
CustomValues = Annotated[dict[str, Any], BeforeValidator(lambda value: value or {})]


def _refuse_unstorable(value: Any) -> Any:
    problem = input_problem(value)
    if problem:
        raise ValueError(problem)
    return value


class NoNulInput(BaseModel):
    """Base of every request body: unknown fields are refused, and so are NUL characters
    (PostgreSQL text cannot hold them; see crm_core.api.nul_guard), lone surrogates, non-finite
    numbers and nesting past `MAX_INPUT_DEPTH` (see crm_core.text_safety)."""

    model_config = ConfigDict(extra="forbid")

    @model_validator(mode="before")
    @classmethod
    def _no_nul(cls, data: Any) -> Any:
        return _refuse_unstorable(data)
