"""Pages of report requests: create one for the levels below, follow its progress live, extend,
close, download everything; each target answers its own part (submit, approve, assign)."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Annotated

from fastapi import APIRouter, File, Form, Request, UploadFile
from fastapi.responses import JSONResponse, RedirectResponse, Response
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.blobs import BlobStore
from services.calendar import check_plausible
from services.directory.models import LEADERS, Organization, Role, User
from services.errors import InvalidInput
from services.i18n import Message, _l
from services.numbers import is_digits
from services.outbox.service import tell
from services.reports import export
from services.reports import service as reports
from services.reports.models import FieldKind, RequestStatus, SubmissionStatus
from services.uploads import OfficeLimits
from web import live
from web.deps import SessionDep, SignedIn, writes_on_read
from web.form_values import form_ids
from web.templating import render

router = APIRouter(tags=["reports"])
log = logging.getLogger(__name__)
STATES = ("overdue", "missing", "awaiting_approval", "waiting", "pending", "late", "on_time")


async def _channel_rule(viewer: live.Viewer, ident: str) -> bool:
    """`report-<id>`: only members of the requesting organisation (and admins/auditors above)."""
    request_id = live.channel_id(ident)
    if request_id is None:
        return False
    req = await viewer.session().get(reports.ReportRequest, request_id)
    return req is not None and reports.can_follow(await viewer.principal(), req)


live.CHANNEL_RULES["report"] = _channel_rule


# --------------------------------------------------------------------------- helpers


def _date(value: str, label: Message) -> dt.date:
    value = (value or "").strip()
    for fmt in ("%Y-%m-%d", "%d/%m/%Y"):
        try:
            parsed = dt.datetime.strptime(value, fmt).date()
        except ValueError:
            continue
        return check_plausible(parsed, label)
    raise InvalidInput(_l("{label}: write the date as dd/mm/yyyy.", label=label))


def _time(value: str) -> dt.time | None:
    value = (value or "").strip()
    if not value:
        return None
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise InvalidInput(_l("Invalid time.")) from None


async def _upload(upload: UploadFile | None, request: Request):
    if upload is None or not upload.filename:
        return None
    settings = request.app.state.settings
    limit = settings.upload_max_bytes
    return reports.check_report_file(
        filename=upload.filename, data=await upload.read(limit + 1), max_bytes=limit, office=OfficeLimits.of(settings)
    )


async def _targets_changed(session: AsyncSession, request_id: int, org_ids: list[int], request_done: bool = False) -> None:
    """Targets look again (report in, approval, extension); with `request_done` the parent too."""
    if request_done:
        await tell(session, "report-request", request_id, "wake")
    for organization_id in org_ids:
        await tell(session, "report-target", request_id, "changed", organization_id)


def _to(url: str, flash: str = "saved") -> RedirectResponse:
    return RedirectResponse(f"{url}?ok={flash}", status_code=303)


async def _requester_orgs(session: AsyncSession, principal: Principal) -> list[Organization]:
    own = {oid for oid, roles in principal.roles.items() if roles & set(reports.REQUESTER_ROLES)}
    orgs = (await session.scalars(select(Organization).where(Organization.id.in_(own)))).all() if own else []
    return [o for o in orgs if principal.tree.subtree(o.id) - {o.id}]


# --------------------------------------------------------------------------- lists


@router.get("/reports")
async def index(request: Request, principal: SignedIn, session: SessionDep, tab: str = "", status: str = "") -> Response:
    sent = await reports.list_requests(session, principal=principal, status=status or None)
    received = await reports.list_received(session, principal=principal)
    if tab not in ("sent", "received"):
        tab = "sent" if sent or not received else "received"
    return render(
        request,
        "reports/index.html",
        {
            "tab": tab,
            "sent": sent,
            "received": received,
            "status": status,
            "can_create": bool(await _requester_orgs(session, principal)),
            "now": reports.utcnow(),
            "state_of": reports.target_state,
        },
    )


@router.get("/reports/new")
async def new_form(request: Request, principal: SignedIn, session: SessionDep, org: int | None = None) -> Response:
    orgs = await _requester_orgs(session, principal)
    if not orgs:
        raise reports.NotFound(_l("Only an organisation with levels below can request reports."))
    current = next((o for o in orgs if o.id == org), None) or next((o for o in orgs if o.id == principal.me.organization_id), orgs[0])
    tree = await reports.tree_below(session, organization_id=current.id)
    default_day = reports.calendar.vn_today() + dt.timedelta(days=14)
    return render(
        request,
        "reports/new.html",
        {
            "orgs": orgs,
            "current": current,
            "tree": tree,
            "parents": [o for o in tree if o.has_children],
            "kinds": [k.value for k in FieldKind],
            "default_day": default_day.isoformat(),
            "field_rows": range(6),
        },
    )


@router.post("/reports")
async def create(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    title: Annotated[str, Form()] = "",
    instructions: Annotated[str, Form()] = "",
    organization_id: Annotated[int, Form()] = 0,
    deadline_date: Annotated[str, Form()] = "",
    deadline_time: Annotated[str, Form()] = "17:00",
    scope: Annotated[str, Form()] = "children",
    under_id: Annotated[str, Form()] = "",
    requires_approval: Annotated[str, Form()] = "",
    template: Annotated[UploadFile | None, File()] = None,
) -> Response:
    form = await request.form()
    picked = form_ids(form.getlist("target_ids"))
    names, units, kinds = form.getlist("field_name"), form.getlist("field_unit"), form.getlist("field_kind")
    fields = [reports.FieldSpec(name=str(n), unit=str(u), kind=str(k)) for n, u, k in zip(names, units, kinds) if str(n).strip()]
    deadline = reports.deadline_from(_date(deadline_date, _l("Deadline")), _time(deadline_time))
    ids, label = await reports.resolve_targets(
        session, organization_id=organization_id, mode=scope, under_id=int(under_id) if is_digits(under_id) else None, picked=picked
    )
    req = await reports.create_request(
        session,
        principal=principal,
        settings=request.app.state.settings,
        organization_id=organization_id,
        title=title,
        instructions=instructions,
        deadline=deadline,
        target_ids=ids,
        scope_label=label,
        fields=fields,
        requires_approval=bool(requires_approval),
        template=await _upload(template, request),
    )
    # The letter goes to the leader for signature; issuing it opens the request.
    assert req.letter_outgoing_id is not None  # create_request drafts the letter with the request
    await tell(session, "outgoing", req.letter_outgoing_id, "changed", "submitted")
    return _to(f"/reports/{req.id}", "created")


# --------------------------------------------------------------------------- the requester's page


@router.get("/reports/{request_id}")
async def detail(request: Request, principal: SignedIn, session: SessionDep, request_id: int, state: str = "") -> Response:
    req = await reports.get_request(session, request_id=request_id)
    if not reports.can_follow(principal, req):
        # A target's member lands on their own part.
        mine = await session.scalar(
            select(reports.ReportTarget.organization_id).where(
                reports.ReportTarget.request_id == request_id, reports.ReportTarget.organization_id.in_(principal.visible_orgs())
            )
        )
        if mine is None:
            raise reports.NotFound(_l("Report request not found or not visible to you."))
        return RedirectResponse(f"/reports/{request_id}/targets/{mine}", status_code=303)
    org = await session.get(Organization, req.organization_id)
    creator = await session.get(User, req.created_by_id)
    rows = await reports.target_rows(session, request_id=req.id, state=state or None)
    letter = await reports.letter_of(session, req)
    letter_signer = await session.get(User, letter.signer_id) if letter else None
    return render(
        request,
        "reports/detail.html",
        {
            "req": req,
            "org": org,
            "creator": creator,
            "rows": rows,
            "state": state,
            "states": STATES,
            "progress": await reports.progress(session, request_id=req.id),
            "letter": letter,
            "letter_signer": letter_signer.full_name if letter_signer else "",
            "can_manage": reports.can_manage(principal, req),
            "deadline_text": reports.vn_deadline_text(req.deadline),
            "default_day": (reports.calendar.vn_today() + dt.timedelta(days=7)).isoformat(),
        },
    )


@router.get("/reports/{request_id}/progress.json")
async def progress_json(principal: SignedIn, session: SessionDep, request_id: int) -> Response:
    req = await reports.request_for(session, principal=principal, request_id=request_id)
    rows = await reports.target_rows(session, request_id=req.id)
    return JSONResponse(
        {
            "status": req.status,
            "progress": (await reports.progress(session, request_id=req.id)).as_dict(),
            "targets": [r.as_dict() for r in rows],
        }
    )


@router.post("/reports/{request_id}/extend")
async def extend(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    request_id: int,
    deadline_date: Annotated[str, Form()] = "",
    deadline_time: Annotated[str, Form()] = "17:00",
    organization_id: Annotated[str, Form()] = "",
    reason: Annotated[str, Form()] = "",
) -> Response:
    await reports.request_for(session, principal=principal, request_id=request_id)  # 404 before the form is read
    deadline = reports.deadline_from(_date(deadline_date, _l("New due date")), _time(deadline_time))
    one = int(organization_id) if is_digits(organization_id) else None
    changed = await reports.extend(
        session, principal=principal, request_id=request_id, deadline=deadline, organization_id=one, reason=reason
    )
    if one is None:
        await tell(session, "report-request", request_id, "deadline_changed")
    else:
        await _targets_changed(session, request_id, changed)
    return _to(f"/reports/{request_id}", "extended")


@router.post("/reports/{request_id}/close")
async def close(
    request: Request, principal: SignedIn, session: SessionDep, request_id: int, reason: Annotated[str, Form()] = ""
) -> Response:
    await reports.close(session, principal=principal, request_id=request_id, reason=reason)
    await tell(session, "report-request", request_id, "wake")
    return _to(f"/reports/{request_id}", "closed")


@router.post("/reports/{request_id}/restart")
async def restart(request: Request, principal: SignedIn, session: SessionDep, request_id: int) -> Response:
    """Start the fan-out again if it never started (idempotent: children are never duplicated)."""
    req = await reports.request_for(session, principal=principal, request_id=request_id)
    if not reports.can_manage(principal, req):
        raise reports.NotFound(_l("Report request not found."))
    if req.status == RequestStatus.open.value:  # before its letter is issued there is nothing to send
        await tell(session, "report-request", req.id, None)
    return _to(f"/reports/{request_id}", "restarted")


def _download(data: bytes, filename: str, content_type: str) -> Response:
    from urllib.parse import quote

    return Response(
        data,
        media_type=content_type,
        headers={
            "Content-Disposition": f'attachment; filename="{export.slug(filename.rsplit(".", 1)[0])}.{filename.rsplit(".", 1)[-1]}"; '
            f"filename*=UTF-8''{quote(filename)}"
        },
    )


@router.get("/reports/{request_id}/export.{fmt}")
@writes_on_read
async def export_all(request: Request, principal: SignedIn, session: SessionDep, request_id: int, fmt: str) -> Response:
    req = await reports.request_for(session, principal=principal, request_id=request_id)
    if fmt not in ("csv", "xlsx", "zip"):
        raise reports.NotFound(_l("unknown format"))
    await reports.record(
        session,
        actor=principal.actor,
        action="report.export",
        object_type="report_request",
        object_id=req.id,
        organization_id=req.organization_id,
        details={"format": fmt},
    )
    name = f"tong-hop-{(req.notation or str(req.id)).replace('/', '-')}"
    if fmt == "zip":
        data = await export.archive(session, req=req, blobs=BlobStore.for_settings(request.app.state.settings))
        return _download(data, f"{name}.zip", "application/zip")
    table = await export.figures_table(session, req=req)
    if fmt == "csv":
        return _download(export.to_csv(table), f"{name}.csv", "text/csv; charset=utf-8")
    return _download(export.to_xlsx(table), f"{name}.xlsx", reports.XLSX)


@router.get("/reports/{request_id}/files/{kind}")
@writes_on_read
async def request_file(request: Request, principal: SignedIn, session: SessionDep, request_id: int, kind: str) -> Response:
    if kind not in ("letter", "template"):
        raise reports.NotFound(_l("file not found"))
    filename, content_type, sha = await reports.blob_for(session, principal=principal, request_id=request_id, kind=kind)
    return _download(BlobStore.for_settings(request.app.state.settings).get(sha), filename, content_type)


# --------------------------------------------------------------------------- a target's part


@router.get("/reports/{request_id}/targets/{organization_id}")
async def target_page(request: Request, principal: SignedIn, session: SessionDep, request_id: int, organization_id: int) -> Response:
    req, target = await reports.target_for(session, principal=principal, request_id=request_id, organization_id=organization_id)
    org = await session.get(Organization, organization_id)
    requester = await session.get(Organization, req.organization_id)
    history = await reports.submissions_of(session, target_id=target.id)
    my_roles = principal.roles.get(organization_id, set())
    people = []
    if my_roles & {*LEADERS, Role.clerk}:
        people = list(
            (
                await session.scalars(
                    select(User).where(User.organization_id == organization_id, User.active.is_(True)).order_by(User.full_name)
                )
            ).all()
        )
    assignee = await session.get(User, target.assignee_id) if target.assignee_id else None
    current = next((s for s, _, _ in history if s.status == SubmissionStatus.submitted.value), None)
    latest = history[0][0] if history else None
    return render(
        request,
        "reports/target.html",
        {
            "req": req,
            "target": target,
            "org": org,
            "requester": requester,
            "history": history,
            "state": reports.target_state(target),
            "assignee": assignee,
            "people": people,
            "can_submit": reports._may_submit(principal, target) and req.status != "closed" and target.status != "missing",
            "is_leader": bool(my_roles & set(LEADERS)),
            "can_assign": bool(my_roles & {*LEADERS, Role.clerk}),
            "is_requester": reports.can_follow(principal, req),
            "can_manage": reports.can_manage(principal, req),
            "prefill": reports.figures_of(latest) if latest else {},
            "current": current,
            "figures_of": reports.figures_of,
            "deadline_text": reports.vn_deadline_text(target.deadline),
            "default_day": (reports.calendar.vn_today() + dt.timedelta(days=7)).isoformat(),
        },
    )


@router.post("/reports/{request_id}/targets/{organization_id}/submit")
async def submit(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    request_id: int,
    organization_id: int,
    note: Annotated[str, Form()] = "",
    file: Annotated[UploadFile | None, File()] = None,
) -> Response:
    form = await request.form()
    figures = {k[4:]: str(v) for k, v in form.items() if k.startswith("fig_")}
    sub = await reports.submit(
        session,
        principal=principal,
        settings=request.app.state.settings,
        request_id=request_id,
        organization_id=organization_id,
        file=await _upload(file, request),
        figures=figures,
        note=note,
    )
    req = await reports.get_request(session, request_id=request_id)
    await _targets_changed(session, request_id, [organization_id], req.status == "completed")
    flash = "awaiting_approval" if sub.status == SubmissionStatus.awaiting_approval.value else "submitted"
    return _to(f"/reports/{request_id}/targets/{organization_id}", flash)


@router.post("/reports/{request_id}/targets/{organization_id}/decide")
async def decide(
    request: Request,
    principal: SignedIn,
    session: SessionDep,
    request_id: int,
    organization_id: int,
    submission_id: Annotated[int, Form()],
    decision: Annotated[str, Form()] = "approve",
    note: Annotated[str, Form()] = "",
) -> Response:
    await reports.decide(
        session,
        principal=principal,
        request_id=request_id,
        organization_id=organization_id,
        submission_id=submission_id,
        approve=decision == "approve",
        note=note,
    )
    req = await reports.get_request(session, request_id=request_id)
    await _targets_changed(session, request_id, [organization_id], req.status == "completed")
    return _to(f"/reports/{request_id}/targets/{organization_id}", "approved" if decision == "approve" else "returned")


@router.post("/reports/{request_id}/targets/{organization_id}/assign")
async def assign(
    request: Request, principal: SignedIn, session: SessionDep, request_id: int, organization_id: int, user_id: Annotated[int, Form()]
) -> Response:
    await reports.assign(session, principal=principal, request_id=request_id, organization_id=organization_id, user_id=user_id)
    return _to(f"/reports/{request_id}/targets/{organization_id}", "assigned")


@router.get("/reports/{request_id}/targets/{organization_id}/submissions/{submission_id}/file")
@writes_on_read
async def submission_file(
    request: Request, principal: SignedIn, session: SessionDep, request_id: int, organization_id: int, submission_id: int
) -> Response:
    filename, content_type, sha = await reports.blob_for(
        session, principal=principal, request_id=request_id, kind="submission", organization_id=organization_id, submission_id=submission_id
    )
    return _download(BlobStore.for_settings(request.app.state.settings).get(sha), filename, content_type)
