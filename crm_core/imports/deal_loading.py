"""Deals and their stage history from files, under the pipeline's own rules.

A deal file brings each deal as it stands: open in a stage since it opened, or closed (won or
lost) on its close date; its history starts with that stage on that date. A stage file brings
moves (deal, stage, date), applied per deal in date order after the deal's last stored move,
under the same rules as a move made in the app: a closed deal never moves again, a move to the
stage it is in is no move. A refused move refuses that deal's later moves in the file, so a
history never has a hole in it.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import polars as pl
from sqlalchemy import Table, bindparam, func, select, update

from crm_core.entities import Deal, DealStage, DealStageChange
from crm_core.errors import ValidationFailedError
from crm_core.imports.bulk_records import REFUSED, ROW, LoadContext, Loaded
from crm_core.imports.loading import insert_rows, new_rows, reserve_ids, stored_rows
from crm_core.schemas.imports import ImportProblem
from crm_core.services.deals import CLOSING, check_transition
from crm_core.value_sets import where_among

CLOSED_STAGES = tuple(stage.value for stage in CLOSING)
DEAL_COLUMNS = (
    "id",
    "external_id",
    "name",
    "amount",
    "stage",
    "status",
    "contact_id",
    "account_id",
    "owner_id",
    "opened_at",
    "closed_at",
)


def load_deals(ctx: LoadContext, parsed: pl.DataFrame, owner_id: int | None) -> Loaded:
    fresh, loaded = new_rows(ctx.uow, Deal, parsed, ("external_id",))
    deals = fresh.with_columns(
        pl.col("stage").fill_null(DealStage.PROSPECTING.value),
        pl.col("amount").fill_null(0.0),
        # A deal the file gives no opening date opened when it closed, if it did (it cannot have
        # opened after), else on import: a won deal never reads as opened today.
        pl.coalesce("opened_at", "closed_at", pl.lit(ctx.now)).alias("opened_at"),
        pl.lit(owner_id, dtype=pl.Int64).alias("owner_id"),
    ).with_columns(
        pl.col("stage")
        .replace_strict({stage.value: status for stage, status in CLOSING.items()}, default="open")
        .alias("status"),
        pl.Series("id", reserve_ids(ctx.uow, Deal, fresh.height), dtype=pl.Int64),
    )
    insert_rows(ctx.uow, Deal, deals.select(DEAL_COLUMNS))
    history = deals.select(
        pl.col("id").alias("deal_id"),
        pl.lit(None, dtype=pl.String).alias("from_stage"),
        pl.col("stage").alias("to_stage"),
        pl.coalesce("closed_at", "opened_at").alias("changed_at"),
    )
    insert_rows(ctx.uow, DealStageChange, history)
    loaded.inserted, loaded.details = deals.height, {"stage_history_rows": history.height}
    return loaded


@dataclass
class _Pipeline:
    """One deal's state while its moves from the file are applied."""

    stage: DealStage
    last_move: datetime
    refused_at: int | None = None  # the first refused row of this deal


def load_stage_moves(ctx: LoadContext, parsed: pl.DataFrame) -> Loaded:
    good = parsed.filter(~pl.col(REFUSED)).sort("deal_id", "changed_at", ROW)
    stored = _stored_moves(ctx, good)
    known = good.join(stored, on=["deal_id", "stage", "changed_at"], how="semi")
    moves = good.filter(~pl.col(ROW).is_in(known[ROW].implode()))
    pipelines = _pipelines(ctx, moves["deal_id"].unique().to_list())
    problems: list[ImportProblem] = []
    history: list[dict[str, Any]] = []
    for row, deal_id, stage, changed_at in moves.select(ROW, "deal_id", "stage", "changed_at").iter_rows():
        pipeline = pipelines[deal_id]
        problem = _move(pipeline, row, DealStage(stage), changed_at)
        if problem is not None:
            problems.append(problem)
            continue
        history.append(
            {"deal_id": deal_id, "from_stage": pipeline.stage.value, "to_stage": stage, "changed_at": changed_at}
        )
        pipeline.stage, pipeline.last_move = DealStage(stage), changed_at
    insert_rows(ctx.uow, DealStageChange, pl.DataFrame(history, schema=_HISTORY_SCHEMA))
    _settle(ctx, {row["deal_id"]: (pipelines[row["deal_id"]], row["changed_at"]) for row in history})
    return Loaded(inserted=len(history), unchanged=known.height, problems=problems)


_HISTORY_SCHEMA = pl.Schema(
    {"deal_id": pl.Int64(), "from_stage": pl.String(), "to_stage": pl.String(), "changed_at": pl.Datetime("us")}
)


def _move(pipeline: _Pipeline, row: int, target: DealStage, at: datetime) -> ImportProblem | None:
    if pipeline.refused_at is not None:
        reason = f"an earlier move of this deal was refused (row {pipeline.refused_at})"
        return ImportProblem(row=row, field="stage", reason=reason)
    try:
        check_transition(pipeline.stage, target)
    except ValidationFailedError as error:
        pipeline.refused_at = row
        return ImportProblem(row=row, field="stage", reason=error.reason, value=target.value)
    if at < pipeline.last_move:
        pipeline.refused_at = row
        floor = pipeline.last_move.isoformat(timespec="seconds")
        return ImportProblem(row=row, field="changed_at", reason=f"is before the deal's last move ({floor})")
    return None


def _stored_moves(ctx: LoadContext, moves: pl.DataFrame) -> pl.DataFrame:
    """The (deal, stage, date) moves of the file already in the history: a re-import's."""
    schema = pl.Schema({"deal_id": pl.Int64(), "stage": pl.String(), "changed_at": pl.Datetime("us")})
    columns = (DealStageChange.deal_id, DealStageChange.to_stage, DealStageChange.changed_at)
    return stored_rows(ctx.uow, columns, DealStageChange.deal_id, moves["deal_id"].unique().to_list(), schema)


def _pipelines(ctx: LoadContext, deal_ids: list[int]) -> dict[int, _Pipeline]:
    if not deal_ids:
        return {}
    dialect = ctx.uow.session.get_bind().dialect.name
    moves = select(DealStageChange.deal_id, func.max(DealStageChange.changed_at).label("last_move"))
    last_move = (
        where_among(moves, DealStageChange.deal_id, deal_ids, dialect).group_by(DealStageChange.deal_id).subquery()
    )
    deals = select(Deal.id, Deal.stage, func.coalesce(last_move.c.last_move, Deal.opened_at)).outerjoin(
        last_move, last_move.c.deal_id == Deal.id
    )
    query = where_among(deals, Deal.id, deal_ids, dialect)
    return {
        deal_id: _Pipeline(DealStage(stage), moved) for deal_id, stage, moved in ctx.uow.session.execute(query).tuples()
    }


def _settle(ctx: LoadContext, moved: dict[int, tuple[_Pipeline, datetime]]) -> None:
    """Each moved deal takes its last stage, and a closed one its status and close date."""
    if not moved:
        return
    table: Table = Deal.__table__  # type: ignore[assignment]
    statement = (
        update(table)
        .where(table.c.id == bindparam("deal"))
        .values(stage=bindparam("new_stage"), status=bindparam("new_status"), closed_at=bindparam("new_closed_at"))
    )
    ctx.uow.session.connection().execute(statement, list(_settled_rows(moved)))


def _settled_rows(moved: dict[int, tuple[_Pipeline, datetime]]) -> Iterator[dict[str, Any]]:
    for deal_id, (pipeline, last_at) in moved.items():
        closing = CLOSING.get(pipeline.stage)
        yield {
            "deal": deal_id,
            "new_stage": pipeline.stage.value,
            "new_status": closing or "open",
            "new_closed_at": last_at if closing else None,
        }
