"""The auditor's pages: filter the trail, one object's timeline, verification and export."""

from __future__ import annotations

import csv
import io
from datetime import datetime, time, timedelta

from fastapi import APIRouter, Request
from fastapi.responses import Response, StreamingResponse
from sqlalchemy import select

from services.audit import service as audit
from services.authz import Principal
from services.directory.models import Organization, Role, User
from services.errors import Forbidden, InvalidInput, NotFound
from services.i18n import _l
from services.numbers import is_digits
from web import audit_view
from web.deps import AuditorUser, SessionDep, writes_on_read
from web.i18n import VN_TZ, fmt_datetime
from web.templating import render

router = APIRouter(prefix="/audit", tags=["audit"])
PAGE = 50
# The action filter: a family of actions by its prefix, named in people's words (object.<kind>).
ACTION_GROUPS = (
    "auth.",
    "incoming.",
    "outgoing.",
    "meeting.",
    "minutes.",
    "report.",
    "task.",
    "signing.",
    "certificate.",
    "user.",
    "role.",
    "org.",
    "unit.",
    "holiday.",
    "audit.",
    "archive.",
    "register.",
    "exchange.",
)


def _day(value: str | None, *, end: bool = False) -> datetime | None:
    if not value:
        return None
    try:
        day = datetime.strptime(value, "%Y-%m-%d").date()
    except ValueError:
        raise InvalidInput(_l("Invalid date: use dd/mm/yyyy.")) from None
    moment = datetime.combine(day, time.min, tzinfo=VN_TZ)
    return moment + timedelta(days=1) if end else moment


def _filters(principal: Principal, params: dict[str, str]) -> audit.AuditFilter:
    scope = principal.orgs_with(Role.auditor)
    org = params.get("org")
    if org:
        if not is_digits(org) or int(org) not in scope:
            raise InvalidInput(_l("Organisation outside your scope."))
        org_ids = principal.tree.subtree(int(org)) & scope
    else:
        org_ids = scope
    actor = params.get("actor")
    return audit.AuditFilter(
        object_type=params.get("object_type") or None,
        object_id=params.get("object_id") or None,
        actor_id=int(actor) if actor and is_digits(actor) else None,
        organization_ids=sorted(org_ids),
        action=params.get("action") or None,
        since=_day(params.get("since")),
        until=_day(params.get("until"), end=True),
    )


def _sees_whole_trail(principal: Principal) -> bool:
    """Only an auditor of a top-level organisation may export the full, verifiable chain."""
    return set(principal.tree.parent) <= principal.orgs_with(Role.auditor)


@router.get("")
async def audit_page(request: Request, principal: AuditorUser, session: SessionDep) -> Response:
    params = dict(request.query_params)
    filters = _filters(principal, params)
    if notation := (params.get("notation") or "").strip()[:100]:
        filters.objects = await audit_view.find_by_notation(session, notation, filters.organization_ids or [])
    before = params.get("before")
    entries = await audit.search(session, filters=filters, before_seq=int(before) if before and is_digits(before) else None, limit=PAGE + 1)
    more = len(entries) > PAGE
    entries = entries[:PAGE]
    orgs = (await session.scalars(select(Organization).where(Organization.id.in_(filters.organization_ids or [])))).all()
    actors = (
        await session.scalars(select(User).where(User.organization_id.in_(filters.organization_ids or [])).order_by(User.full_name))
    ).all()
    query = {k: v for k, v in params.items() if k != "before" and v}
    return render(
        request,
        "audit/index.html",
        {
            "entries": entries,
            "more": more,
            "next_before": entries[-1].seq if entries else None,
            "orgs": orgs,
            "org_names": {o.id: o.name for o in orgs},
            "actors": actors,
            "params": params,
            "query": query,
            "whole_trail": _sees_whole_trail(principal),
            "checkpoint": await audit.latest_checkpoint(session),
            "labels": await audit_view.object_labels(session, entries),
            "details": await audit_view.readable_details(session, entries),
            "action_groups": ACTION_GROUPS,
        },
    )


@router.get("/object/{object_type}/{object_id}")
async def object_timeline(request: Request, principal: AuditorUser, session: SessionDep, object_type: str, object_id: str) -> Response:
    filters = _filters(principal, {"object_type": object_type, "object_id": object_id})
    # An object of an organisation outside the auditor's scope is not theirs to know of: 404, as elsewhere.
    if not await audit_view.object_organization(session, object_type, object_id) & set(filters.organization_ids or []):
        raise NotFound(_l("No such object in your audit scope."))
    entries = list(reversed(await audit.search(session, filters=filters, limit=500)))
    labels = await audit_view.labels_of(session, {(object_type, object_id)})
    return render(
        request,
        "audit/timeline.html",
        {
            "entries": entries,
            "object_type": object_type,
            "object_id": object_id,
            "label": labels[(object_type, object_id)],
            "details": await audit_view.readable_details(session, entries),
        },
    )


@router.get("/verify")
async def verify_page(request: Request, principal: AuditorUser, session: SessionDep) -> Response:
    if not _sees_whole_trail(principal):
        raise Forbidden(
            _l("Only an auditor of the top-level organisation verifies the whole trail."),
        )
    result = await audit.verify_database(session, data_dir=request.app.state.settings.data_dir)
    return render(request, "audit/verify.html", {"result": result})


@router.get("/export.jsonl")
@writes_on_read
async def export_jsonl(request: Request, principal: AuditorUser, session: SessionDep) -> Response:
    if not _sees_whole_trail(principal):
        raise Forbidden(
            _l("Only an auditor of the top-level organisation exports the whole trail."),
        )
    lines = [line async for line in audit.export_lines(session, data_dir=request.app.state.settings.data_dir)]
    await audit.record(session, actor=principal.actor, action="audit.export", details={"format": "jsonl", "lines": len(lines)})
    return Response(
        "\n".join(lines) + "\n",
        media_type="application/x-ndjson",
        headers={"Content-Disposition": 'attachment; filename="nhat-ky-lienthong.jsonl"'},
    )


@router.get("/export.csv")
@writes_on_read
async def export_csv(request: Request, principal: AuditorUser, session: SessionDep) -> Response:
    filters = _filters(principal, dict(request.query_params))
    entries = await audit.search(session, filters=filters, limit=100_000)
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(
        ["seq", "time (+07:00)", "actor", "organization_id", "action", "object_type", "object_id", "ip", "details", "entry_hash"]
    )
    for e in entries:
        writer.writerow(
            [
                e.seq,
                fmt_datetime(e.at),
                e.actor_name,
                e.organization_id,
                e.action,
                e.object_type,
                e.object_id,
                e.ip,
                e.details,
                e.entry_hash,
            ]
        )
    await audit.record(session, actor=principal.actor, action="audit.export", details={"format": "csv", "rows": len(entries)})
    return StreamingResponse(
        iter(["\ufeff" + buffer.getvalue()]),
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="nhat-ky-loc.csv"'},
    )
