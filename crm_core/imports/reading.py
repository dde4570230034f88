"""Reading an import file into text columns, whatever its format.

Everything is read as text: type inference would turn a ZIP code into an integer or a phone
number into a float before validation could report it, and a bad cell must be named, not
guessed at.
"""

from __future__ import annotations

import enum
import io
from pathlib import Path

import polars as pl

from crm_core.errors import ValidationFailedError

MAX_IMPORT_ROWS = 1_000_000
PARQUET_MAGIC = b"PAR1"


class FileFormat(enum.StrEnum):
    CSV = "csv"
    PARQUET = "parquet"


def detect_format(name: str, head: bytes) -> FileFormat:
    if head.startswith(PARQUET_MAGIC) or name.lower().endswith(".parquet"):
        return FileFormat.PARQUET
    return FileFormat.CSV


def read_table(source: Path | bytes, file_format: FileFormat | None = None, name: str = "") -> pl.DataFrame:
    """The file as a frame of nullable strings; refuses files past the row cap."""
    data = source.read_bytes() if isinstance(source, Path) else source
    label = name or (source.name if isinstance(source, Path) else "upload")
    chosen = file_format or detect_format(label, data[:4])
    try:
        if chosen is FileFormat.PARQUET:
            frame = pl.read_parquet(io.BytesIO(data))
            frame = frame.with_columns(pl.all().cast(pl.String))
        else:
            frame = pl.read_csv(io.BytesIO(data), infer_schema=False, encoding="utf8-lossy")
    except (pl.exceptions.PolarsError, OSError, ValueError) as error:
        raise ValidationFailedError("file", f"{label} is not a readable {chosen.value} file: {error}") from error
    if frame.height > MAX_IMPORT_ROWS:
        raise ValidationFailedError("file", f"{frame.height:,} rows is over the {MAX_IMPORT_ROWS:,}-row import cap")
    # Empty cells and whitespace-only cells both mean "no value".
    return frame.with_columns(pl.all().str.strip_chars().replace("", None))
