"""What an import reports back: counts, and every row it did not load with the reason."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field


class ImportProblem(BaseModel):
    model_config = ConfigDict(extra="forbid")

    row: int = Field(description="1-based data row of the file (the header is not counted)")
    field: str
    reason: str
    value: str | None = Field(
        default=None, description="the cell as the file gave it (its first 200 characters), when one field is at fault"
    )


class ImportReport(BaseModel):
    model_config = ConfigDict(extra="forbid")

    source: str
    file_sha256: str
    rows: int
    inserted: int = Field(description="new contacts created")
    merged: int = Field(description="existing contacts that gained a value from the file")
    unchanged: int = Field(description="rows matching an existing contact with nothing new")
    duplicates_in_file: int = Field(description="rows folded into an earlier row of the same person")
    rejected: list[ImportProblem]
    flagged: list[ImportProblem] = Field(description="loaded, but worth a look (e.g. a previously erased person)")
