"""The bulk refresh's writer for Feast's Redis online store (the production profile).

Feast keeps one hash per contact holding every view's values (fields named by a murmur3 hash
of `view:feature`) and one `_ts:<view>` field per view. A chunk's HSET commands are encoded
together with Arrow's element-wise binary join, then sent as one MULTI/EXEC transaction that
also sets the run's progress, so Redis applies the chunk and its progress together or not at
all.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from features.online_format import FeastOnlineFormat, redis_field, redis_timestamp
from features.online_refresh import KEY, RunProgress, ViewColumns
from features.resp_bulk import RedisBulkConnection, encode_command
from features.schema import ENTITY_KEY

PROGRESS_KEY = "crm_intel:online_refresh"


class RedisOnlineTarget:
    def __init__(self, connection_string: str, layout: FeastOnlineFormat) -> None:
        import redis

        options = connection_options(connection_string)
        self.layout = layout
        self.client = redis.Redis(**options)  # small reads and writes: progress
        self.bulk = RedisBulkConnection(**options)  # the chunks themselves

    def progress(self, run: str) -> RunProgress:
        stored: dict[bytes, bytes] = self.client.hgetall(PROGRESS_KEY)  # type: ignore[assignment]  # sync: a dict
        if stored.get(b"run") != run.encode():
            return RunProgress(None, 0, False)
        return RunProgress(
            stored.get(b"last_key") or None, int(stored.get(b"contacts_committed", 0)), stored.get(b"finished") == b"1"
        )

    def write_chunk(self, run: str, chunk: pl.DataFrame, views: list[ViewColumns], as_of: datetime) -> None:
        committed = self.progress(run).contacts_committed
        progress = encode_command(
            b"HSET",
            PROGRESS_KEY.encode(),
            b"run",
            run.encode(),
            b"last_key",
            chunk[KEY][-1],
            b"contacts_committed",
            str(committed + chunk.height).encode(),
            b"finished",
            b"0",
        )
        self.bulk.transaction(self._hset_commands(chunk, views, as_of), chunk.height, [progress])

    def _hset_commands(self, chunk: pl.DataFrame, views: list[ViewColumns], as_of: datetime) -> memoryview:
        """`HSET <contact's key> <field> <value> ...` for every contact, as one buffer."""
        stamp = redis_timestamp(as_of)
        pieces: list[Any] = []
        pairs = 0
        for view in views:
            pieces.append(pa.scalar(_bulk_string(f"_ts:{view.name}".encode()) + _bulk_string(stamp)))
            pairs += 1
            for feature in view.features:
                pieces.append(pa.scalar(_bulk_string(redis_field(view.name, feature))))
                pieces.extend(_bulk_strings(self.layout.values(chunk[feature])))
                pairs += 1
        keys = self.layout.redis_keys(chunk[ENTITY_KEY])
        head = pa.scalar(b"*%d\r\n$4\r\nHSET\r\n" % (2 + 2 * pairs))
        commands = pc.binary_join_element_wise(head, *_bulk_strings(keys), *pieces, pa.scalar(b""))
        # one contiguous buffer already holds every command, back to back, in order
        offsets = np.frombuffer(commands.buffers()[1], dtype=np.int32)[
            commands.offset : commands.offset + len(commands) + 1
        ]
        return memoryview(commands.buffers()[2])[int(offsets[0]) : int(offsets[-1])]

    def finish(self, run: str) -> None:
        self.client.hset(PROGRESS_KEY, mapping={b"run": run.encode(), b"finished": b"1"})

    def close(self) -> None:
        self.bulk.close()
        self.client.close()


def _bulk_string(data: bytes) -> bytes:
    return b"$%d\r\n%s\r\n" % (len(data), data)


def _bulk_strings(values: pa.Array) -> list[Any]:
    """Pieces that join to `$<length>\\r\\n<value>\\r\\n` for every value of a binary array."""
    lengths = pc.cast(pc.cast(pc.binary_length(values), pa.string()), pa.binary())
    return [pa.scalar(b"$"), lengths, pa.scalar(b"\r\n"), values, pa.scalar(b"\r\n")]


def connection_options(connection_string: str) -> dict[str, Any]:
    """Feast's `host:port,db=N,password=...` as keyword arguments for redis-py and ours."""
    address, *options = connection_string.split(",")
    host, _, port = address.partition(":")
    settings: dict[str, Any] = {"host": host or "127.0.0.1", "port": int(port or 6379)}
    for option in options:
        name, _, value = option.partition("=")
        name = name.strip()
        if name == "db":
            settings["db"] = int(value)
        elif name == "password":
            settings["password"] = value
        else:
            raise ValueError(f"the bulk refresh does not support the Redis option {name!r}")
    return settings
