"""Reading an import file into text columns, whatever its format.

Everything is read as text: type inference would turn a ZIP code into an integer or a phone
number into a float before validation could report it, and a bad cell must be named, not
guessed at.
"""

from __future__ import annotations

import enum
import hashlib
import io
from pathlib import Path

import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq

from crm_core.errors import ValidationFailedError

MAX_IMPORT_ROWS = 1_000_000
# What a Parquet file may decode to; it is decoded a batch of rows at a time and refused as
# soon as the running total passes this.
MAX_PARQUET_DECODED_BYTES = 512 * 1024 * 1024
PARQUET_BATCH_ROWS = 2_048
PARQUET_MAGIC = b"PAR1"


class FileFormat(enum.StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


def detect_format(name: str, head: bytes) -> FileFormat:
    if head.startswith(PARQUET_MAGIC) or name.lower().endswith(".parquet"):
        return FileFormat.PARQUET
    return FileFormat.CSV


def read_table(
    source: Path | bytes, file_format: FileFormat | None = None, name: str = "", separator: str = ","
) -> pl.DataFrame:
    """The file as a frame of nullable strings (a CSV's fields split at `separator`); refuses
    files past the row cap."""
    data = source.read_bytes() if isinstance(source, Path) else source
    label = name or (source.name if isinstance(source, Path) else "upload")
    chosen = file_format or detect_format(label, data[:4])
    try:
        if chosen is FileFormat.PARQUET:
            frame = _read_parquet(data).with_columns(pl.all().cast(pl.String))
        else:
            # One row past the cap is enough to refuse: a file of a hundred million tiny rows
            # is never decoded whole.
            frame = pl.read_csv(
                io.BytesIO(data),
                infer_schema=False,
                encoding="utf8-lossy",
                n_rows=MAX_IMPORT_ROWS + 1,
                separator=separator,
            )
    except (pl.exceptions.PolarsError, pa.ArrowException, OSError, ValueError) as error:
        raise ValidationFailedError("file", f"{label} is not a readable {chosen.value} file: {error}") from error
    if frame.height > MAX_IMPORT_ROWS:
        raise _over_the_cap(f"{frame.height - 1:,}+")
    # Empty cells and whitespace-only cells both mean "no value".
    return frame.with_columns(pl.all().str.strip_chars().replace("", None))


def _over_the_cap(rows: str) -> ValidationFailedError:
    return ValidationFailedError("file", f"{rows} rows is over the {MAX_IMPORT_ROWS:,}-row import cap")


def _read_parquet(data: bytes) -> pl.DataFrame:
    """Decode a Parquet file within the caps: the row count from its footer before anything
    is decoded (154 KB of compressed one-character strings once decoded to 100M rows and 1.5 GB
    before the row cap was checked), then a batch of rows at a time, counting decoded bytes."""
    parquet = pq.ParquetFile(io.BytesIO(data))
    if parquet.metadata.num_rows > MAX_IMPORT_ROWS:
        raise _over_the_cap(f"{parquet.metadata.num_rows:,}")
    batches: list[pa.RecordBatch] = []
    decoded = 0
    for batch in parquet.iter_batches(batch_size=PARQUET_BATCH_ROWS):
        decoded += batch.nbytes
        if decoded > MAX_PARQUET_DECODED_BYTES:
            raise ValidationFailedError(
                "file", f"decodes to more than the {MAX_PARQUET_DECODED_BYTES // 2**20:,} MiB import cap"
            )
        batches.append(batch)
    return pl.DataFrame(pa.Table.from_batches(batches, schema=parquet.schema_arrow))


def file_digest(frame: pl.DataFrame) -> str:
    """The file's fingerprint in the audit trail: which file an import was, without its content."""
    return hashlib.sha256(frame.write_csv().encode()).hexdigest()
