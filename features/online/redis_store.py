"""The online store in production: one Redis hash per contact, through redis-py.

`crm_intel:online:<layout version>:<contact id>` holds `as_of` (microseconds since the epoch)
and `features` (the layout's blob). A refresh chunk is one MULTI/EXEC pipeline carrying every
contact's HSET and the run's progress, so Redis applies both or neither; a writer killed
mid-chunk leaves nothing of it. Connections come from the URL as redis-py reads it: `redis://`
or `rediss://` (TLS), an ACL user name and password, the database number, TLS options.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from datetime import datetime
from itertools import islice
from typing import Any

from features.online.store import OnlineStoreWriteError, RunProgress, StoredRow, from_micros, to_micros

PREFIX = "crm_intel:online"
# A server that never answers (down, or not speaking TLS to a rediss:// client) must fail a
# request, never hang it; options in the URL's query string override these.
CONNECT_TIMEOUT_SECONDS = 5.0
REPLY_TIMEOUT_SECONDS = 30.0
LAYOUTS_KEY = f"{PREFIX}:layouts"
_BATCH = 1_000


class RedisOnlineStore:
    def __init__(self, url: str, version: str) -> None:
        import redis

        # redis-py's stubs type replies as async-or-sync
        self.client: Any = redis.Redis.from_url(
            url, socket_connect_timeout=CONNECT_TIMEOUT_SECONDS, socket_timeout=REPLY_TIMEOUT_SECONDS
        )
        self.version = version
        self.progress_key = f"{PREFIX}:{version}:refresh"

    def key(self, contact_id: int) -> str:
        return f"{PREFIX}:{self.version}:{contact_id}"

    def progress(self, run: str) -> RunProgress:
        stored: dict[bytes, bytes] = self.client.hgetall(self.progress_key)
        if stored.get(b"run") != run.encode():
            return RunProgress(None, 0, False)
        last = stored.get(b"last_contact")
        return RunProgress(
            int(last) if last else None, int(stored.get(b"contacts_committed", 0)), stored.get(b"finished") == b"1"
        )

    def write_chunk(self, run: str, contact_ids: Sequence[int], as_of: datetime, blobs: Sequence[bytes]) -> None:
        """One MULTI/EXEC. Redis has no rollback: a command it refuses inside EXEC (a key of
        ours holding another type) leaves the others applied, so the progress is then deleted
        and the next run starts over, rather than resuming past a hole."""
        import redis

        committed = self.progress(run).contacts_committed
        with self.client.pipeline(transaction=True) as pipe:
            self._queue_rows(pipe, contact_ids, as_of, blobs)
            pipe.hset(
                self.progress_key,
                mapping={
                    b"run": run.encode(),
                    b"last_contact": str(contact_ids[-1]).encode(),
                    b"contacts_committed": str(committed + len(contact_ids)).encode(),
                    b"finished": b"0",
                },
            )
            try:
                pipe.execute()
            except redis.ResponseError as error:
                self.client.delete(self.progress_key)
                raise OnlineStoreWriteError(f"the online store refused a write in this chunk: {error}") from error

    def _queue_rows(self, pipe: Any, contact_ids: Sequence[int], as_of: datetime, blobs: Sequence[bytes]) -> None:
        """The contacts' hashes onto `pipe`, and this layout into the set an erasure reads."""
        stamp = str(to_micros(as_of)).encode()
        for contact_id, blob in zip(contact_ids, blobs, strict=True):
            pipe.hset(self.key(contact_id), mapping={b"as_of": stamp, b"features": blob})
        pipe.sadd(LAYOUTS_KEY, self.version)

    def put(self, contact_ids: Sequence[int], as_of: datetime, blobs: Sequence[bytes]) -> None:
        """A few contacts' rows replaced in one MULTI/EXEC, outside any refresh run."""
        import redis

        with self.client.pipeline(transaction=True) as pipe:
            self._queue_rows(pipe, contact_ids, as_of, blobs)
            try:
                pipe.execute()
            except redis.ResponseError as error:
                raise OnlineStoreWriteError(f"the online store refused a write: {error}") from error

    def finish(self, run: str) -> None:
        """Mark the run done, and delete the rows of earlier layouts."""
        self.client.hset(self.progress_key, mapping={b"run": run.encode(), b"finished": b"1"})
        self.client.sadd(LAYOUTS_KEY, self.version)
        for stale in {member.decode() for member in self.client.smembers(LAYOUTS_KEY)} - {self.version}:
            for batch in _batches(self.client.scan_iter(match=f"{PREFIX}:{stale}:*", count=_BATCH)):
                self.client.delete(*batch)
            self.client.srem(LAYOUTS_KEY, stale)

    def read(self, contact_ids: Sequence[int]) -> dict[int, StoredRow]:
        with self.client.pipeline(transaction=False) as pipe:
            for contact_id in contact_ids:
                pipe.hmget(self.key(contact_id), [b"as_of", b"features"])
            replies: list[list[bytes | None]] = pipe.execute()
        return {
            contact_id: StoredRow(from_micros(int(as_of)), features)
            for contact_id, (as_of, features) in zip(contact_ids, replies, strict=True)
            if as_of is not None and features is not None
        }

    def delete(self, contact_ids: Sequence[int]) -> int:
        """The contacts' rows under every layout written (a refresh to a new layout that has not
        finished leaves the old one beside it): an erased person leaves none behind."""
        versions = {member.decode() for member in self.client.smembers(LAYOUTS_KEY)} | {self.version}
        removed = 0
        for version in sorted(versions):
            for batch in _batches(iter(contact_ids)):
                removed += int(self.client.delete(*(f"{PREFIX}:{version}:{contact_id}" for contact_id in batch)))
        return removed

    def ping(self) -> None:
        self.client.ping()

    def errors(self) -> tuple[type[Exception], ...]:
        import redis

        return (redis.RedisError,)

    def close(self) -> None:
        self.client.close()


def _batches(items: Iterator[Any]) -> Iterator[list[Any]]:
    while batch := list(islice(items, _BATCH)):
        yield batch
