"""Import files that decode to far more than they weigh are refused before they are decoded."""

from __future__ import annotations

import io
import json
import subprocess
import sys
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from crm_core.errors import ValidationFailedError
from crm_core.imports.reading import MAX_IMPORT_ROWS, read_table

BOMB_ROWS = 20_000_000
ROW_GROUP = 10_000_000


@pytest.fixture(scope="module")
def parquet_bomb(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """20M one-character emails in two row groups: a few hundred KB that decode to hundreds of MB."""
    path = tmp_path_factory.mktemp("bomb") / "contacts.parquet"
    column = pa.array(["x"] * ROW_GROUP, type=pa.string())
    table = pa.table({"email": column})
    with pq.ParquetWriter(path, table.schema, compression="zstd") as writer:
        for _ in range(BOMB_ROWS // ROW_GROUP):
            writer.write_table(table)
    return path


MEASURE = """
import resource, sys, json
from pathlib import Path
from crm_core.imports.reading import read_table
from crm_core.errors import ValidationFailedError
data = Path(sys.argv[1]).read_bytes()
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
try:
    read_table(data, name="contacts.parquet")
    outcome = "read"
except ValidationFailedError as error:
    outcome = str(error)
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print(json.dumps({"outcome": outcome, "peak_growth_kib": after - before}))
"""


def test_a_parquet_bomb_is_refused_from_its_footer_without_the_memory(parquet_bomb: Path) -> None:
    assert parquet_bomb.stat().st_size < 2 * 2**20
    done = subprocess.run(
        [sys.executable, "-c", MEASURE, str(parquet_bomb)], capture_output=True, text=True, check=True, timeout=300
    )
    measured = json.loads(done.stdout.strip().splitlines()[-1])
    assert "20,000,000 rows is over the 1,000,000-row import cap" in measured["outcome"]
    assert measured["peak_growth_kib"] < 50 * 1024, f"peak grew {measured['peak_growth_kib'] / 1024:.0f} MiB"


def test_a_parquet_file_that_decodes_past_the_byte_cap_is_refused() -> None:
    wide = pa.table({"notes": pa.array(["n" * 100_000] * 6_000, type=pa.large_string())})
    buffer = io.BytesIO()
    pq.write_table(wide, buffer, compression="zstd")
    assert len(buffer.getvalue()) < 2**20
    with pytest.raises(ValidationFailedError, match="MiB import cap"):
        read_table(buffer.getvalue(), name="notes.parquet")


def test_a_csv_of_tiny_rows_is_refused_at_one_past_the_cap() -> None:
    data = b"email\n" + b"x\n" * (MAX_IMPORT_ROWS + 5_000)
    with pytest.raises(ValidationFailedError, match="1,000,000\\+ rows is over the 1,000,000-row import cap"):
        read_table(data, name="people.csv")
    assert read_table(b"email\n" + b"x\n" * 3, name="people.csv").height == 3
