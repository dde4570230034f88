"""Consent decisions from a file: each row is one decision (contact, channel, granted or
withdrawn, when, where), added to the contact's consent history. The same decision already in
the history (same contact, channel, status and time) is left alone, so a re-import adds none."""

from __future__ import annotations

import polars as pl

from crm_core.entities import Consent
from crm_core.imports.bulk_records import REFUSED, LoadContext, Loaded
from crm_core.imports.loading import fold_repeats, insert_rows, stored_rows

DECISION = ("contact_id", "channel", "status", "recorded_at")
DEFAULT_SOURCE = "import"


def load_consents(ctx: LoadContext, parsed: pl.DataFrame) -> Loaded:
    keyed = parsed.filter(~pl.col(REFUSED)).with_columns(pl.struct(DECISION).alias("decision"))
    good, folded = fold_repeats(keyed, ("decision",))
    stored = _stored_decisions(ctx, good["contact_id"].unique().to_list())
    fresh = good.join(stored, on=list(DECISION), how="anti")
    rows = fresh.select(*DECISION, pl.col("source").fill_null(DEFAULT_SOURCE))
    insert_rows(ctx.uow, Consent, rows)
    return Loaded(inserted=fresh.height, unchanged=good.height - fresh.height, duplicates_in_file=folded)


DECISIONS = pl.Schema(
    {"contact_id": pl.Int64(), "channel": pl.String(), "status": pl.String(), "recorded_at": pl.Datetime("us")}
)


def _stored_decisions(ctx: LoadContext, contact_ids: list[int]) -> pl.DataFrame:
    columns = (Consent.contact_id, Consent.channel, Consent.status, Consent.recorded_at)
    return stored_rows(ctx.uow, columns, Consent.contact_id, contact_ids, DECISIONS)
