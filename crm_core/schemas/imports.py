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
    kind: str = Field(default="contacts", description="what the file held: contacts, orders, products...")
    file_sha256: str
    rows: int
    inserted: int = Field(description="new records created (orders, not their lines, for an orders file)")
    merged: int = Field(description="existing records that gained a value from the file")
    unchanged: int = Field(description="records already stored (same external id or key): left as they are")
    duplicates_in_file: int = Field(description="rows folded into an earlier row naming the same record")
    rejected: list[ImportProblem]
    flagged: list[ImportProblem] = Field(description="loaded, but worth a look (e.g. a previously erased person)")
    details: dict[str, int] = Field(default_factory=dict, description="what else was written, e.g. order_lines")
