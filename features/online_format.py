"""Feast's online storage format, encoded a whole column at a time.

Feast's `materialize` turns every feature value into a protobuf message and serializes it one
by one in Python (~2,500 contacts/s here); the bytes themselves are simple: an entity key is a
fixed header followed by the id as a little-endian int64, a double is one tag byte and eight
bytes, an int64 a tag byte and a varint, a null an empty message. This module produces exactly
those bytes with numpy and pyarrow, and checks them against Feast's own serializers when it is
built, so a Feast release that changes its format fails loudly here instead of writing rows
Feast can no longer read.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
import polars as pl
import pyarrow as pa
import pyarrow.compute as pc

from crm_core.errors import CrmError
from features.schema import ENTITY_KEY

_DOUBLE_WIDTH = 8
_ID_WIDTH = 8
# str(float) switches to exponent notation outside this range; polars never does.
_PLAIN_NOTATION = (1e-4, 1e16)


class OnlineFormatError(CrmError, RuntimeError):
    """Feast's serializers no longer produce the layout this module writes."""


@dataclass(frozen=True)
class FeastOnlineFormat:
    """The byte layout of one Feast project's online rows, read off Feast's own encoders."""

    project: str
    key_header: bytes  # the serialized entity key minus the trailing int64 id
    double_tag: bytes

    @classmethod
    def probe(cls, project: str, serialization_version: int) -> FeastOnlineFormat:
        from feast.infra.key_encoding_utils import serialize_entity_key
        from feast.protos.feast.types.EntityKey_pb2 import EntityKey
        from feast.protos.feast.types.Value_pb2 import Value

        def feast_key(contact_id: int) -> bytes:
            key = EntityKey(join_keys=[ENTITY_KEY], entity_values=[Value(int64_val=contact_id)])
            return bytes(serialize_entity_key(key, serialization_version))

        sample = feast_key(1)
        header = sample[:-_ID_WIDTH]
        layout = cls(project, header, Value(double_val=0.0).SerializeToString()[:1])
        for contact_id in (1, 255, 2**31 + 7, 2**62):
            if feast_key(contact_id) != layout.entity_key(contact_id):
                raise OnlineFormatError(f"Feast's entity key for contact {contact_id} changed layout")
        for number in (0.0, -2.5, 1e300):
            if Value(double_val=number).SerializeToString() != layout.double_tag + struct.pack("<d", number):
                raise OnlineFormatError(f"Feast's double value {number} changed layout")
        if Value().SerializeToString() != b"":
            raise OnlineFormatError("Feast's null value is no longer an empty message")
        return layout

    def entity_key(self, contact_id: int) -> bytes:
        return self.key_header + struct.pack("<q", contact_id)

    def entity_keys(self, contact_ids: pl.Series, suffix: bytes = b"") -> pa.Array:
        """Serialized keys for a column of ids, each followed by `suffix`, built as one buffer
        (no Python loop)."""
        header = self.key_header
        matrix = np.empty((len(contact_ids), len(header) + _ID_WIDTH + len(suffix)), dtype=np.uint8)
        matrix[:, : len(header)] = np.frombuffer(header, dtype=np.uint8)
        ids = contact_ids.cast(pl.Int64).to_numpy().astype("<i8").view(np.uint8).reshape(-1, _ID_WIDTH)
        matrix[:, len(header) : len(header) + _ID_WIDTH] = ids
        matrix[:, len(header) + _ID_WIDTH :] = np.frombuffer(suffix, dtype=np.uint8)
        return _binary(matrix, None)

    def redis_keys(self, contact_ids: pl.Series) -> pa.Array:
        """Feast's Redis hash names: the entity key followed by the project name."""
        return self.entity_keys(contact_ids, suffix=self.project.encode())

    def values(self, column: pl.Series) -> pa.Array:
        """Serialized ValueProto bytes for an Int64 or Float64 column; null -> empty message."""
        if column.dtype == pl.Float64:
            return self._doubles(column)
        if column.dtype == pl.Int64:
            return _int64s(column)
        raise OnlineFormatError(f"no online encoding for {column.name} of type {column.dtype}")

    def _doubles(self, column: pl.Series) -> pa.Array:
        present = column.is_not_null().to_numpy()
        matrix = np.empty((len(column), 1 + _DOUBLE_WIDTH), dtype=np.uint8)
        matrix[:, 0] = self.double_tag[0]
        numbers = column.fill_null(0.0).to_numpy().astype("<f8")
        matrix[:, 1:] = numbers.view(np.uint8).reshape(-1, _DOUBLE_WIDTH)
        return _binary(matrix, present)


def _binary(matrix: np.ndarray, present: np.ndarray | None) -> pa.Array:
    """Rows of a uint8 matrix as a binary array; rows not `present` become empty bytes."""
    rows, width = matrix.shape
    validity = None if present is None else pa.array(present).buffers()[1]
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(width), rows, [validity, pa.py_buffer(np.ascontiguousarray(matrix))]
    )
    as_binary = fixed.cast(pa.binary())
    return as_binary if present is None else pc.fill_null(as_binary, pa.scalar(b"", pa.binary()))


def _int64s(column: pl.Series) -> pa.Array:
    """Counts take few distinct values: serialize each distinct one with Feast's own proto
    class and map the column onto them."""
    from feast.protos.feast.types.Value_pb2 import Value

    distinct = column.drop_nulls().unique().to_list()
    encoded = [Value(int64_val=number).SerializeToString() for number in distinct]
    mapped = column.replace_strict(distinct, encoded, return_dtype=pl.Binary).fill_null(b"")
    return mapped.to_arrow().cast(pa.binary())


def value_texts(column: pl.Series) -> pl.Series:
    """`str(value)` as Feast stores it beside each SQLite value (its text-search column).

    polars formats floats like Python except in the exponent ranges, which are rare in CRM
    features: those few go through Python.
    """
    text = column.cast(pl.String)
    if column.dtype != pl.Float64:
        return text
    magnitude = column.abs()
    odd = (magnitude > 0) & ((magnitude < _PLAIN_NOTATION[0]) | (magnitude >= _PLAIN_NOTATION[1]))
    if not odd.any():
        return text
    python_text = column.filter(odd).map_elements(lambda number: str(float(number)), return_dtype=pl.String)
    return text.scatter(odd.arg_true(), python_text)


def sqlite_timestamp(moment: datetime) -> int:
    """An event time as Feast's SQLite store keeps it: the epoch seconds of the naive UTC time,
    taken by `datetime.timestamp()` (so in the machine's zone, as Feast reads it back)."""
    if moment.tzinfo is not None:
        moment = moment.astimezone(UTC).replace(tzinfo=None)
    return int(moment.timestamp())


def redis_timestamp(moment: datetime) -> bytes:
    """The `_ts:<view>` hash field Feast's Redis store keeps beside each view's values."""
    from google.protobuf.timestamp_pb2 import Timestamp

    aware = moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)
    stamp = Timestamp()
    stamp.FromDatetime(aware)
    return bytes(stamp.SerializeToString())


def redis_field(view: str, feature: str) -> bytes:
    """The hash field Feast's Redis store files one feature under (a murmur3 hash of its name)."""
    from feast.infra.online_stores.helpers import _mmh3

    return bytes(_mmh3(f"{view}:{feature}"))
