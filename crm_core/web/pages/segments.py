"""The marketer's segment builder: filter by scores, bands, clusters and attributes, watch the
audience size and expected precision update, save, and export the consented members as CSV."""

from __future__ import annotations

import re
from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from fastapi import APIRouter, Path, Request, Response
from fastapi.responses import JSONResponse, RedirectResponse
from pydantic import ValidationError
from sqlalchemy import select

from crm_core.api.deps import UoW
from crm_core.auth.policy import Action, Scope
from crm_core.clock import utc_now
from crm_core.entities import Channel, Contact, CurrentScore, Segment
from crm_core.errors import ValidationFailedError
from crm_core.schemas.records import LifecycleStage
from crm_core.schemas.segments import SegmentCreate, SegmentRule
from crm_core.services.access import within_reach
from crm_core.services.contact_export import ExportFormat, export_contacts
from crm_core.services.model_descriptions import scoring_models
from crm_core.services.segment_preview import preview_segment
from crm_core.services.segments import CLUSTER, create_rule_segment, get_segment, list_segments, member_filter
from crm_core.web.session import Csrf, Viewer
from crm_core.web.templating import pages_of

router = APIRouter()

# A score condition's fields are named `<model>_bands` and `<model>_min`.
SCORE_FIELD = re.compile(r"^([a-z][a-z0-9_]{0,39})_(bands|min)$")
BANDS = ("high", "medium", "low")
MEMBERS_SHOWN = 50
FormValues = Mapping[str, Any]


def _many(values: FormValues, name: str) -> list[str]:
    getter = getattr(values, "getlist", None)
    found = getter(name) if getter else values.get(name, [])
    return [str(value) for value in (found if isinstance(found, list) else [found]) if str(value)]


def _percent(values: FormValues, name: str) -> float | None:
    raw = str(values.get(name) or "").strip()
    if not raw:
        return None
    try:
        percent = float(raw)
    except ValueError as error:
        raise ValidationFailedError(name, f"'{raw}' is not a number") from error
    if not 0 <= percent <= 100:
        raise ValidationFailedError(name, "is a percentage between 0 and 100")
    return percent / 100


def rule_from_form(values: FormValues) -> dict[str, Any]:
    """The builder's fields as a segment rule's fields (validated by the caller's schema)."""
    scores = []
    named = sorted({found.group(1) for key in values if (found := SCORE_FIELD.match(str(key)))})
    for model in named:
        condition = {
            "model": model,
            "bands": _many(values, f"{model}_bands") or None,
            "min_score": _percent(values, f"{model}_min"),
        }
        if condition["bands"] is not None or condition["min_score"] is not None:
            scores.append(condition)
    spend = str(values.get("min_spend") or "").strip()
    try:
        min_spend = Decimal(spend) if spend else None
    except InvalidOperation as error:
        raise ValidationFailedError("min_spend", f"'{spend}' is not an amount") from error
    return {
        "scores": scores,
        "min_order_value_365d": min_spend,
        "lifecycle_stages": _many(values, "stages") or None,
        "clusters": _many(values, "clusters") or None,
    }


def _validated(schema: type[SegmentRule], fields: dict[str, Any]) -> Any:
    try:
        return schema.model_validate(fields)
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(part) for part in first["loc"]) or "segment"
        raise ValidationFailedError(where, first["msg"].removeprefix("Value error, ")) from error


def _channel(values: FormValues) -> Channel:
    raw = str(values.get("channel") or Channel.EMAIL.value)
    try:
        return Channel(raw)
    except ValueError as error:
        raise ValidationFailedError("channel", f"'{raw}' is not a contact channel") from error


@router.get("/segments")
def builder(request: Request, uow: UoW, viewer: Viewer) -> Response:
    segments = list_segments(uow, viewer)
    return pages_of(request).render(
        request,
        "segments.html",
        segments=segments,
        clusters=[s for s in segments if s.kind == CLUSTER and s.member_count],
        models=scoring_models(uow),
        bands=BANDS,
        stages=[stage.value for stage in LifecycleStage],
        channels=[channel.value for channel in Channel],
        may_create=viewer.scope("segment", Action.CREATE) is not Scope.NONE,
    )


@router.get("/segments/preview")
def preview(request: Request, uow: UoW, viewer: Viewer) -> Response:
    """The live numbers under the builder (JSON for the page's script)."""
    try:
        rule = _validated(SegmentRule, rule_from_form(request.query_params))
        channel = _channel(request.query_params)
    except ValidationFailedError as error:
        return JSONResponse({"error": str(error)}, status_code=422)
    found = preview_segment(uow, viewer, rule, channel, utc_now())
    return JSONResponse(
        {
            "size": found.size,
            "contactable": found.contactable,
            "channel": found.channel.value,
            "expected": [
                {"model": e.model, "precision": e.precision, "expected_hits": e.expected_hits(found.size)}
                for e in found.expected
            ],
        }
    )


@router.post("/segments", dependencies=[Csrf])
async def save(request: Request, uow: UoW, viewer: Viewer) -> Response:
    form = await request.form()
    fields = rule_from_form(form) | {
        "name": str(form.get("name") or "").strip(),
        "description": str(form.get("description") or "").strip(),
    }
    body = _validated(SegmentCreate, fields)
    segment = create_rule_segment(uow, viewer, body, utc_now())
    uow.commit()
    return RedirectResponse(f"{pages_of(request).prefix}/segments/{segment.id}", status_code=303)


@router.get("/segments/{segment_id}")
def segment_page(request: Request, uow: UoW, viewer: Viewer, segment_id: int = Path(ge=1, le=2**62)) -> Response:
    segment = get_segment(uow, viewer, segment_id)
    models = scoring_models(uow)
    members = _members(uow, viewer, segment, [model.name for model in models])
    return pages_of(request).render(
        request,
        "segment.html",
        segment=segment,
        models=models,
        members=members,
        shown=MEMBERS_SHOWN,
        channels=[channel.value for channel in Channel],
        may_export=viewer.scope("contact", Action.EXPORT) is not Scope.NONE
        and viewer.scope("segment", Action.EXPORT) is not Scope.NONE,
    )


def _members(uow: UoW, viewer: Viewer, segment: Segment, model_names: list[str]) -> list[dict[str, Any]]:
    """The first members in the viewer's reach, with their newest scores."""
    scope = viewer.require("contact", Action.READ)
    query = within_reach(
        select(Contact.id, Contact.first_name, Contact.last_name, Contact.lifecycle_stage).where(
            member_filter(segment.id)
        ),
        Contact.owner_id,
        viewer,
        scope,
    )
    rows = uow.session.execute(query.order_by(Contact.id).limit(MEMBERS_SHOWN)).all()
    ids = [row.id for row in rows]
    scores: dict[str, dict[int, float]] = {}
    if ids and viewer.scope("prediction", Action.READ) is not Scope.NONE:
        for model in model_names:
            found = uow.session.execute(
                select(CurrentScore.contact_id, CurrentScore.score).where(
                    CurrentScore.model_name == model, CurrentScore.contact_id.in_(ids)
                )
            )
            scores[model] = {int(contact_id): float(score) for contact_id, score in found}
    return [
        {
            "id": row.id,
            "name": f"{row.first_name} {row.last_name}".strip(),
            "stage": row.lifecycle_stage,
            "scores": {model: scores.get(model, {}).get(row.id) for model in model_names},
        }
        for row in rows
    ]


@router.post("/segments/{segment_id}/export", dependencies=[Csrf])
async def export(request: Request, uow: UoW, viewer: Viewer, segment_id: int = Path(ge=1, le=2**62)) -> Response:
    """CSV of the members who opted in on the chosen channel, masked for the viewer's role and
    audited; the consent filter applies to every export from this page, whatever the role."""
    form = await request.form()
    segment = get_segment(uow, viewer, segment_id)
    viewer.require("segment", Action.EXPORT)
    done = export_contacts(
        uow,
        viewer,
        file_format=ExportFormat.CSV,
        consent=[_channel(form)],
        filters=[member_filter(segment.id)],
        now=utc_now(),
    )
    uow.commit()
    filename = f"segment-{segment.key}-{done.filename.removeprefix('contacts-')}"
    return Response(
        done.content,
        media_type=done.media_type,
        headers={"Content-Disposition": f'attachment; filename="{filename}"', "X-Rows": str(done.rows)},
    )
