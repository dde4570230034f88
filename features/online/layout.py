"""Our encoding of one contact's online features: a single blob per contact.

The blob is a format byte, every feature of the pinned contact schema as a little-endian
float64 in schema order, and a bitmap of which values are present (so a null stays a null and
never becomes NaN or 0). Counts are Int64 in the schema and come back as Int64; they are exact
in a float64 up to 2**53, and a larger one is refused rather than rounded.

The layout's `version` names the schema it encodes. Stores file rows under it, so a release
that changes the features reads nothing stale: until the next refresh its contacts are "not
ready", the same answer a contact created after the last build gets.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import polars as pl

from crm_core.errors import CrmError
from features.schema import CONTACT_FEATURES_SCHEMA, ENTITY_KEY, EVENT_TIMESTAMP

FORMAT = 1
_DOUBLE = 8
# Every integer up to this magnitude has an exact float64.
_EXACT_INTEGER = 2**53


class OnlineLayoutError(CrmError, ValueError):
    """A value the layout cannot hold exactly, or a stored blob of another layout."""


@dataclass(frozen=True)
class OnlineLayout:
    """The features one blob holds, in order, and which of them are counts."""

    features: tuple[str, ...]
    integer: tuple[bool, ...]

    @classmethod
    def of_schema(cls, schema: pl.Schema = CONTACT_FEATURES_SCHEMA) -> OnlineLayout:
        names = tuple(name for name in schema.names() if name not in (ENTITY_KEY, EVENT_TIMESTAMP))
        return cls(names, tuple(schema[name] == pl.Int64 for name in names))

    @classmethod
    def of_snapshots(cls, snapshot_path: Path) -> OnlineLayout:
        """The layout of a data home's snapshots: the pinned features, then the custom-field
        inputs its models take (the pinned layout alone before the first build)."""
        if not snapshot_path.exists():
            return cls.of_schema()
        return cls.of_schema(pl.Schema(pl.read_parquet_schema(snapshot_path)))

    @property
    def version(self) -> str:
        """Twelve hex digits naming the format and the (feature, type) list."""
        kinds = ("i" if whole else "f" for whole in self.integer)
        described = ";".join(f"{name}:{kind}" for name, kind in zip(self.features, kinds, strict=True))
        return hashlib.sha256(f"{FORMAT}|{described}".encode()).hexdigest()[:12]

    @property
    def width(self) -> int:
        return 1 + _DOUBLE * len(self.features) + self._bitmap_bytes

    @property
    def _bitmap_bytes(self) -> int:
        return (len(self.features) + 7) // 8

    def encode(self, frame: pl.DataFrame) -> list[bytes]:
        """One blob per row of `frame` (which holds every feature of the layout), in row order."""
        columns = frame.select(self.features)
        for name, whole in zip(self.features, self.integer, strict=True):
            largest = columns[name].abs().max() if whole else None
            if isinstance(largest, int) and largest >= _EXACT_INTEGER:
                raise OnlineLayoutError(f"feature {name} holds {largest}, beyond what the online layout keeps exactly")
        present = np.column_stack([columns[name].is_not_null().to_numpy() for name in self.features])
        values = np.column_stack([columns[name].cast(pl.Float64).fill_null(0.0).to_numpy() for name in self.features])
        matrix = np.empty((frame.height, self.width), dtype=np.uint8)
        matrix[:, 0] = FORMAT
        doubles_end = 1 + _DOUBLE * len(self.features)
        matrix[:, 1:doubles_end] = np.ascontiguousarray(values, dtype="<f8").view(np.uint8)
        matrix[:, doubles_end:] = np.packbits(present, axis=1, bitorder="little")
        return [row.tobytes() for row in matrix]

    def frame(self, blobs: Sequence[bytes], wanted: Sequence[str]) -> pl.DataFrame:
        """The `wanted` features of each blob as a frame typed as the schema types them (for
        whole-table reads; serving builds its request frame from `decode_rows` with its keys)."""
        schema = dict(zip(wanted, self.dtypes(wanted), strict=True))
        return pl.DataFrame(self.decode_rows(blobs, wanted), schema=schema, orient="row")

    def decode_rows(self, blobs: Sequence[bytes], wanted: Sequence[str]) -> list[list[object]]:
        """The `wanted` values of each blob as Python scalars (None where absent, int for
        counts): an online request's few rows build one row-oriented frame from these, which
        costs a fraction of one Series per feature."""
        if not blobs:
            return []
        values, present = self._matrix(blobs)
        positions = [self.features.index(name) for name in wanted]
        whole = [self.integer[position] for position in positions]
        picked, shown = values[:, positions].tolist(), present[:, positions].tolist()
        return [
            [
                (int(value) if integer else value) if seen else None
                for value, seen, integer in zip(row, mask, whole, strict=True)
            ]
            for row, mask in zip(picked, shown, strict=True)
        ]

    def _matrix(self, blobs: Sequence[bytes]) -> tuple[np.ndarray, np.ndarray]:
        """(values, present) as (rows, features) float64 and bool matrices."""
        joined = b"".join(blobs)
        if len(joined) != self.width * len(blobs) or any(blob[0] != FORMAT for blob in blobs):
            raise OnlineLayoutError("an online row was written in another layout: run `crm-intel build-features`")
        matrix = np.frombuffer(joined, dtype=np.uint8).reshape(len(blobs), self.width)
        doubles_end = 1 + _DOUBLE * len(self.features)
        values = np.ascontiguousarray(matrix[:, 1:doubles_end]).view("<f8")
        present = np.unpackbits(matrix[:, doubles_end:], axis=1, bitorder="little", count=len(self.features))
        return values, present.astype(bool)

    def dtypes(self, names: Sequence[str]) -> list[pl.DataType]:
        return [self._dtype(name) for name in names]

    def _dtype(self, name: str) -> pl.DataType:
        return pl.Int64() if self.integer[self.features.index(name)] else pl.Float64()
