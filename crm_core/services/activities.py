"""Batch ingestion of timeline events: every good row lands, every bad row is named.

Rows are validated one by one (shape, then the contact's existence and the caller's reach),
so one malformed event never costs the rest of the batch. Timestamps with a zone are stored
as naive UTC; naive ones are taken as UTC.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from pydantic import ValidationError
from sqlalchemy import insert

from crm_core.auth.policy import Action
from crm_core.auth.principal import Principal
from crm_core.clock import IN_THE_FUTURE, as_naive_utc
from crm_core.entities import Activity
from crm_core.schemas.activities import ActivityIn, BatchOutcome, RowProblem
from crm_core.services import audit
from crm_core.services.access import contact_ids_in_reach
from crm_core.services.rescoring import request_rescore
from crm_core.unit_of_work import UnitOfWork


def ingest(uow: UnitOfWork, principal: Principal, rows: list[dict[str, Any]], *, now: datetime) -> BatchOutcome:
    principal.require("activity", Action.CREATE)
    problems: list[RowProblem] = []
    parsed: list[tuple[int, ActivityIn]] = []
    for index, raw in enumerate(rows):
        try:
            parsed.append((index, ActivityIn.model_validate(raw)))
        except ValidationError as error:
            first = error.errors()[0]
            field = ".".join(str(part) for part in first["loc"]) or "row"
            problems.append(RowProblem(index=index, field=field, reason=first["msg"]))
    reachable = contact_ids_in_reach(uow, principal, "activity", Action.CREATE, {row.contact_id for _, row in parsed})
    good: list[dict[str, Any]] = []
    for index, row in parsed:
        if row.contact_id not in reachable:
            problems.append(
                RowProblem(index=index, field="contact_id", reason=f"{row.contact_id} is not a known contact in reach")
            )
        elif as_naive_utc(row.occurred_at) > now:
            problems.append(RowProblem(index=index, field="occurred_at", reason=IN_THE_FUTURE))
        else:
            good.append(row.model_dump() | {"channel": row.channel.value, "occurred_at": as_naive_utc(row.occurred_at)})
    if good:  # a batch that writes nothing leaves no trace, like any refused request
        uow.session.execute(insert(Activity), good)
        request_rescore(uow, (row["contact_id"] for row in good), now=now)
        audit.record(
            uow,
            principal,
            action="activity.ingest",
            entity="activity",
            details={"inserted": len(good), "rejected": len(problems)},
            at=now,
        )
    return BatchOutcome(inserted=len(good), rejected=sorted(problems, key=lambda problem: problem.index))
