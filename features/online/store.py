"""What every online store of ours offers: chunks written with the run's progress in one
transaction, reads and deletes by contact id, a cheap health check."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

from crm_core.errors import CrmError

_EPOCH = datetime(1970, 1, 1)


class OnlineStoreWriteError(CrmError, RuntimeError):
    """The store refused part of a chunk; the run's progress was forgotten, so the next
    refresh writes every contact again."""


@dataclass(frozen=True)
class RunProgress:
    last_contact: int | None
    contacts_committed: int
    finished: bool


@dataclass(frozen=True)
class StoredRow:
    as_of: datetime  # the snapshot time the features were computed at (naive UTC)
    features: bytes  # the layout's blob


class OnlineStore(Protocol):
    def progress(self, run: str) -> RunProgress: ...

    def write_chunk(self, run: str, contact_ids: Sequence[int], as_of: datetime, blobs: Sequence[bytes]) -> None:
        """Write the rows and advance the run's progress together, or neither."""
        ...

    def finish(self, run: str) -> None: ...

    def put(self, contact_ids: Sequence[int], as_of: datetime, blobs: Sequence[bytes]) -> None:
        """Replace a few contacts' rows outside any refresh run (live rescoring after a write)."""
        ...

    def read(self, contact_ids: Sequence[int]) -> dict[int, StoredRow]:
        """The stored rows of the contacts that have one."""
        ...

    def delete(self, contact_ids: Sequence[int]) -> int:
        """Remove the contacts' rows; how many there were."""
        ...

    def ping(self) -> None:
        """Raise one of `errors()` unless the store answers a cheap read."""
        ...

    def errors(self) -> tuple[type[Exception], ...]:
        """What the store's driver raises when the store cannot be used."""
        ...

    def close(self) -> None: ...


def to_micros(moment: datetime) -> int:
    """A snapshot time as whole microseconds since the epoch (naive times are UTC)."""
    naive = moment.astimezone(UTC).replace(tzinfo=None) if moment.tzinfo is not None else moment
    return (naive - _EPOCH) // timedelta(microseconds=1)


def from_micros(micros: int) -> datetime:
    return _EPOCH + timedelta(microseconds=micros)
