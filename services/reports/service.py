"""Report requests across levels: create a request, deliver it to each target organisation as
an incoming document, take submissions (with the target leader's approval when asked), extend
deadlines, close, and read progress.

The database is the system of record; the request's workflow (`report-request-<id>`) owns the
fan-out and its targets' deadlines (requests from before it kept them in one child per target,
`report-request-<id>-<orgId>`) and calls the functions below through thin activities. Every state change writes its audit entry and its live
event (`report-<id>`) in the caller's transaction.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, time
from decimal import Decimal, InvalidOperation
from typing import Any

from sqlalchemy import Select, case, func, insert, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services import calendar
from services.audit.service import Actor, record
from services.authz import Principal
from services.blobs import BlobStore
from services.config import Settings
from services.db import utcnow
from services.directory.models import LEADERS, Organization, Role, RoleAssignment, User
from services.errors import Conflict, DomainError, InvalidInput, NotFound
from services.events.service import publish
from services.i18n import _l
from services.notifications.service import notify
from services.outgoing.models import OutgoingDocument
from services.reports.models import (
    FieldKind,
    ReportField,
    ReportRequest,
    ReportSubmission,
    ReportTarget,
    RequestStatus,
    SubmissionStatus,
    TargetStatus,
)
from services.uploads import DOCX, PDF, XLSX, CheckedUpload, OfficeLimits, check_upload

REQUESTER_ROLES = (*LEADERS, Role.officer, Role.clerk)
SUBMITTER_ROLES = (Role.officer, *LEADERS)
MAX_TARGETS = 5000
NOTICE_KINDS = ("reminder", "overdue", "escalation")


def channel(request_id: int) -> str:
    return f"report-{request_id}"


def outgoing_ref(request_id: int) -> str:
    """The key of the target's incoming copy (idempotent delivery)."""
    return f"report-request-{request_id}"


def _not_found() -> NotFound:
    return NotFound(_l("report request not found"))


# --- inputs -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FieldSpec:
    name: str
    unit: str = ""
    kind: str = FieldKind.integer.value
    required: bool = True


def check_report_file(*, filename: str | None, data: bytes, max_bytes: int, office: OfficeLimits = OfficeLimits()) -> CheckedUpload:
    """A report or template file: PDF, DOCX or XLSX (checked by content, Office files for bombs and macros)."""
    try:
        return check_upload(filename=filename, data=data, allowed={PDF, DOCX, XLSX}, max_bytes=max_bytes, office=office)
    except InvalidInput as exc:
        if "định dạng" in exc.message:
            raise InvalidInput(
                _l("The file must be a PDF, DOCX or XLSX.", filename=filename),
            ) from None
        raise


def deadline_from(day: date, at: time | None = None) -> datetime:
    """A deadline given as a Vietnamese date (and time, default end of the working day 17:00)."""
    at = at or time(17, 0)
    return calendar.vn_instant(day, at.hour, at.minute)


# --- targets from the tree ------------------------------------------------------------------------


@dataclass
class TreeOrg:
    id: int
    name: str
    level: str
    depth: int
    parent_id: int | None
    has_children: bool


async def tree_below(session: AsyncSession, *, organization_id: int) -> list[TreeOrg]:
    """Active organisations below `organization_id`, depth-first, for the target picker."""
    orgs = (await session.scalars(select(Organization).where(Organization.active.is_(True)))).all()
    children: dict[int | None, list[Organization]] = {}
    for org in orgs:
        children.setdefault(org.parent_id, []).append(org)
    result: list[TreeOrg] = []

    def walk(parent: int, depth: int) -> None:
        for org in sorted(children.get(parent, []), key=lambda o: o.name):
            result.append(TreeOrg(org.id, org.name, org.level.value, depth, org.parent_id, bool(children.get(org.id))))
            walk(org.id, depth + 1)

    walk(organization_id, 1)
    return result


async def resolve_targets(
    session: AsyncSession, *, organization_id: int, mode: str, under_id: int | None = None, picked: Iterable[int] = ()
) -> tuple[list[int], str]:
    """Target organisation IDs of a scope, with a label for the page:
    `children` (the level below, e.g. all districts), `under` (all communes under one district),
    `subtree` (everything below), `pick` (chosen one by one)."""
    below = await tree_below(session, organization_id=organization_id)
    by_id = {o.id: o for o in below}
    if mode == "children":
        ids = [o.id for o in below if o.parent_id == organization_id]
        label = "Các đơn vị cấp dưới trực tiếp"
    elif mode == "under":
        if under_id not in by_id:
            raise InvalidInput(_l("Choose the parent organisation of the receiving units."))
        ids = [o.id for o in below if o.parent_id == under_id]
        label = f"Các đơn vị trực thuộc {by_id[under_id].name}"
    elif mode == "subtree":
        ids = [o.id for o in below]
        label = "Toàn bộ đơn vị cấp dưới"
    elif mode == "pick":
        wanted = set(picked)
        if wanted - set(by_id):
            raise InvalidInput(_l("Targets must be below the requesting organisation."))
        ids = [o.id for o in below if o.id in wanted]
        label = "Các đơn vị được chọn"
    else:
        raise InvalidInput(_l("Choose who receives the request."))
    if not ids:
        raise InvalidInput(_l("The chosen scope has no organisation."))
    return ids, label


# --- creating a request ---------------------------------------------------------------------------


def _clean_fields(fields: Sequence[FieldSpec]) -> list[FieldSpec]:
    cleaned = []
    for spec in fields:
        name = spec.name.strip()
        if not name:
            continue
        if spec.kind not in {k.value for k in FieldKind}:
            raise InvalidInput(_l("Invalid type of figure {name}.", name=name))
        cleaned.append(FieldSpec(name=name[:255], unit=spec.unit.strip()[:64], kind=spec.kind, required=spec.required))
    if len(cleaned) > 50:
        raise InvalidInput(_l("At most 50 figures."))
    return cleaned


async def _leader_of(session: AsyncSession, organization_id: int) -> User | None:
    return await session.scalar(
        select(User)
        .join(RoleAssignment, RoleAssignment.user_id == User.id)
        .where(RoleAssignment.organization_id == organization_id, RoleAssignment.role == Role.leader, User.active.is_(True))
        .order_by(User.id)
        .limit(1)
    )


def letter_ref(request_id: int) -> str:
    """The `source_ref` of the request's letter (its outgoing document): one letter per request."""
    return f"report-request-{request_id}-letter"


def _letter_docx(req: ReportRequest, org: Organization, signer: str, position: str, fields: list[FieldSpec]) -> bytes:
    """The request as a công văn (Decree 30 layout), the draft of its outgoing document."""
    from services.documents.layout import BodyBlock, DocumentSpec, SigningBlock, build_document_docx
    from services.documents.notation import notation_suffix

    body: list[str | BodyBlock] = [p for p in req.instructions.splitlines() if p.strip()] or [req.title]
    if fields:
        body.append(BodyBlock(text="Các chỉ tiêu cần báo cáo:", style="heading"))
        for i, f in enumerate(fields, 1):
            body.append(f"{i}. {f.name}" + (f" (đơn vị tính: {f.unit})" if f.unit else ""))
    body.append(
        f"Đề nghị các đơn vị gửi báo cáo trên hệ thống Liên Thông trước {_vn(req.deadline):%H} giờ "
        f"{_vn(req.deadline):%M} ngày {_vn(req.deadline):%d/%m/%Y}."
    )
    spec = DocumentSpec(
        parent_body=org.parent_body or None,
        issuing_body=org.name.upper(),
        doc_type="CV",
        notation_suffix=notation_suffix(type_code=None, org_abbr=org.abbreviation),
        place=org.place or "Bến Tre",  # number and date: fields the clerk's issuing fills in
        subject=req.title,
        addressees=[req.scope_label] if req.scope_label else [],
        body=body,
        recipients=["Như trên"],
        filing="Lưu: VT.",
        signers=[
            SigningBlock(
                role="leader", authority_prefix="TM.", authority_line="BAN THƯỜNG VỤ", position=position or "CHỦ TỊCH", signer_name=signer
            )
        ],
    )
    return build_document_docx(spec)


def _vn(value: datetime) -> datetime:
    return value.astimezone(calendar.VN_TZ)


async def create_request(
    session: AsyncSession,
    *,
    principal: Principal,
    settings: Settings,
    organization_id: int,
    title: str,
    instructions: str,
    deadline: datetime,
    target_ids: Sequence[int],
    scope_label: str = "",
    fields: Sequence[FieldSpec] = (),
    requires_approval: bool = False,
    template: CheckedUpload | None = None,
    now: datetime | None = None,
) -> ReportRequest:
    """Create a request, its targets (bulk insert: thousands are fine) and its letter, submitted to
    the organisation's leader for signature; the caller tells the letter's workflow in the same
    transaction (`outbox.tell(session, "outgoing", req.letter_outgoing_id, "changed")`). The
    request opens, and its workflow starts, when the letter is issued (`letter_issued`)."""
    if organization_id not in principal.orgs_with(*REQUESTER_ROLES):
        raise _not_found()
    now = now or utcnow()
    title = " ".join(title.split())
    if not title:
        raise InvalidInput(_l("Enter the title of the request."))
    if deadline <= now:
        raise InvalidInput(_l("The deadline must be in the future."))
    below = principal.tree.subtree(organization_id) - {organization_id}
    targets = list(dict.fromkeys(target_ids))
    if not targets:
        raise InvalidInput(_l("Choose at least one target."))
    if set(targets) - below:
        raise InvalidInput(_l("Targets must be below the requester."))
    if len(targets) > MAX_TARGETS:
        raise InvalidInput(_l("At most {MAX_TARGETS} targets.", MAX_TARGETS=MAX_TARGETS))
    specs = _clean_fields(fields)
    org = await session.get(Organization, organization_id)
    assert org is not None
    from services.outgoing import service as outgoing

    leaders = await outgoing.signers_of(session, organization_id=organization_id)
    if not leaders:
        raise InvalidInput(_l("The organisation has no leader to sign the request letter."))
    signer = next((u for u in leaders if u.id == principal.user.id), leaders[0])

    blobs = BlobStore.for_settings(settings)
    req = ReportRequest(
        organization_id=organization_id,
        created_by_id=principal.user.id,
        year=_vn(now).year,
        title=title[:500],
        instructions=instructions.strip()[:20000],
        deadline=deadline,
        requires_approval=requires_approval,
        scope_label=scope_label[:255],
        status=RequestStatus.awaiting_letter.value,
        target_count=len(targets),
        created_at=now,
        fields=[ReportField(position=i, name=s.name, unit=s.unit, kind=s.kind, required=s.required) for i, s in enumerate(specs)],
    )
    if template is not None:
        req.template_filename = template.filename
        req.template_content_type = template.content_type
        req.template_sha256 = blobs.put(template.data)
    session.add(req)
    await session.flush()
    # The letter is an outgoing document like any other: the leader signs it, the clerk numbers it
    # in the outgoing register, seals and issues it; issuing opens the request (`letter_issued`).
    docx = _letter_docx(req, org, signer.full_name, signer.position or "", specs)
    req.letter_sha256 = blobs.put(docx)
    letter = await outgoing.create_draft(
        session,
        settings=settings,
        actor=principal.actor,
        organization_id=organization_id,
        fields=outgoing.DraftFields(
            doc_type="CV",
            subject=req.title,
            body=req.instructions or req.title,
            signer_id=signer.id,
            recipient_org_ids=targets,
            authority_prefix="TM.",
            authority_line="BAN THƯỜNG VỤ",
            due_date=_vn(deadline).date(),
        ),
        upload=CheckedUpload(filename=f"cong-van-yeu-cau-bao-cao-{req.id}.docx", content_type=DOCX, data=docx),
        files=[template] if template is not None else (),
        source_ref=letter_ref(req.id),
    )
    await outgoing.submit(session, actor=principal.actor, doc=letter)
    req.letter_outgoing_id = letter.id
    await session.execute(
        insert(ReportTarget),
        [
            {
                "request_id": req.id,
                "organization_id": oid,
                "position": i,
                "status": TargetStatus.pending.value,
                "deadline": deadline,
                "revision": 0,
                "updated_at": now,
            }
            for i, oid in enumerate(targets)
        ],
    )
    await record(
        session,
        actor=principal.actor,
        action="report.create",
        object_type="report_request",
        object_id=req.id,
        organization_id=organization_id,
        details={
            "title": req.title,
            "outgoing_id": req.letter_outgoing_id,
            "deadline": deadline.isoformat(),
            "targets": len(targets),
            "fields": [s.name for s in specs],
            "requires_approval": requires_approval,
        },
    )
    await publish(session, channel=channel(req.id), kind="created", payload={"request_id": req.id})
    return req


async def lock_request(session: AsyncSession, *, request_id: int | None = None, letter_outgoing_id: int | None = None) -> None:
    """Take the request's row lock now, before the audit head (lock order: services/db.py), when
    the caller changes it only after auditing (issuing its letter, its last report)."""
    where = ReportRequest.id == request_id if letter_outgoing_id is None else ReportRequest.letter_outgoing_id == letter_outgoing_id
    await session.execute(select(ReportRequest.id).where(where).with_for_update(key_share=True))


async def letter_issued(session: AsyncSession, *, actor: Actor, document_id: int, number: int, notation: str, year: int) -> None:
    """The request's letter was issued (in the caller's transaction): the request takes its number
    from the outgoing register, opens, and its workflow is queued to start. Other documents: nothing."""
    from services.outbox.service import tell

    req = await session.scalar(select(ReportRequest).where(ReportRequest.letter_outgoing_id == document_id).with_for_update())
    if req is None or req.status != RequestStatus.awaiting_letter.value:
        return
    req.number, req.notation, req.year = number, notation, year
    req.status = RequestStatus.open.value
    await record(
        session,
        actor=actor,
        action="report.open",
        object_type="report_request",
        object_id=req.id,
        organization_id=req.organization_id,
        details={"notation": notation, "outgoing_id": document_id},
    )
    await publish(session, channel=channel(req.id), kind="opened", payload={"request_id": req.id})
    await tell(session, "report-request", req.id, None)


# --- reading -------------------------------------------------------------------------------------


async def get_request(session: AsyncSession, *, request_id: int) -> ReportRequest:
    req = await session.get(ReportRequest, request_id)
    if req is None:
        raise _not_found()
    return req


def can_follow(principal: Principal, req: ReportRequest) -> bool:
    """Members of the requesting organisation (and admins/auditors above it) follow all targets."""
    return req.organization_id in principal.visible_orgs()


def can_manage(principal: Principal, req: ReportRequest) -> bool:
    return principal.user.id == req.created_by_id or req.organization_id in principal.orgs_with(*LEADERS)


async def request_for(session: AsyncSession, *, principal: Principal, request_id: int) -> ReportRequest:
    """The request as its requester sees it (404 for anyone else, targets included)."""
    req = await get_request(session, request_id=request_id)
    if not can_follow(principal, req):
        raise _not_found()
    return req


async def target_for(
    session: AsyncSession, *, principal: Principal, request_id: int, organization_id: int
) -> tuple[ReportRequest, ReportTarget]:
    """One target's part: its own members, or the requester (404 for other targets)."""
    req = await get_request(session, request_id=request_id)
    target = await session.scalar(
        select(ReportTarget).where(ReportTarget.request_id == request_id, ReportTarget.organization_id == organization_id)
    )
    if target is None:
        raise _not_found()
    if not (organization_id in principal.visible_orgs() or can_follow(principal, req)):
        raise _not_found()
    return req, target


@dataclass
class Progress:
    total: int = 0
    delivered: int = 0
    submitted: int = 0
    on_time: int = 0
    late: int = 0
    missing: int = 0  # past its deadline (or closed) without a report
    waiting: int = 0  # not submitted, deadline still ahead
    awaiting_approval: int = 0

    @property
    def percent(self) -> int:
        return round(100 * self.submitted / self.total) if self.total else 0

    def as_dict(self) -> dict[str, int]:
        return {
            k: getattr(self, k) for k in ("total", "delivered", "submitted", "on_time", "late", "missing", "waiting", "awaiting_approval")
        } | {"percent": self.percent}


async def progress(session: AsyncSession, *, request_id: int, now: datetime | None = None) -> Progress:
    """Counts for the progress bar, straight from the targets table."""
    now = now or utcnow()
    submitted = ReportTarget.first_submitted_at.is_not(None)
    row = (
        await session.execute(
            select(
                func.count(),
                func.sum(case((ReportTarget.delivered_at.is_not(None), 1), else_=0)),
                func.sum(case((submitted & ReportTarget.on_time.is_(True), 1), else_=0)),
                func.sum(case((submitted & ReportTarget.on_time.is_(False), 1), else_=0)),
                func.sum(
                    case((~submitted & ((ReportTarget.deadline < now) | (ReportTarget.status == TargetStatus.missing.value)), 1), else_=0)
                ),
                func.sum(case((ReportTarget.status == TargetStatus.awaiting_approval.value, 1), else_=0)),
            ).where(ReportTarget.request_id == request_id)
        )
    ).one()
    total, delivered, on_time, late, missing, pending_approval = (int(v or 0) for v in row)
    result = Progress(
        total=total,
        delivered=delivered,
        submitted=on_time + late,
        on_time=on_time,
        late=late,
        missing=missing,
        awaiting_approval=pending_approval,
    )
    result.waiting = total - result.submitted - missing
    return result


def target_state(target: ReportTarget, now: datetime | None = None) -> str:
    """What the requester sees per target: waiting, awaiting_approval, on_time, late, overdue, missing."""
    now = now or utcnow()
    if target.first_submitted_at is not None:
        return "on_time" if target.on_time else "late"
    if target.status == TargetStatus.missing.value:
        return "missing"
    if target.deadline < now:
        return "overdue"
    if target.status == TargetStatus.awaiting_approval.value:
        return "awaiting_approval"
    if target.status == TargetStatus.pending.value:
        return "pending"
    return "waiting"


@dataclass
class TargetRow:
    target_id: int
    organization_id: int
    organization: str
    level: str
    state: str
    deadline: datetime
    submitted_at: datetime | None
    versions: int
    assignee: str | None

    def as_dict(self) -> dict[str, Any]:
        from services.calendar import VN_TZ

        return {
            "target_id": self.target_id,
            "organization_id": self.organization_id,
            "organization": self.organization,
            "state": self.state,
            "deadline": self.deadline.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M"),
            "submitted_at": self.submitted_at.astimezone(VN_TZ).strftime("%d/%m/%Y %H:%M") if self.submitted_at else "",
            "versions": self.versions,
        }


STATE_ORDER = {"overdue": 0, "missing": 1, "awaiting_approval": 2, "waiting": 3, "pending": 4, "late": 5, "on_time": 6}


async def target_rows(session: AsyncSession, *, request_id: int, state: str | None = None, now: datetime | None = None) -> list[TargetRow]:
    """Every target with its state, overdue first (the requester's table)."""
    now = now or utcnow()
    versions = (
        select(ReportSubmission.target_id, func.count().label("n"))
        .where(ReportSubmission.status.in_((SubmissionStatus.submitted.value, SubmissionStatus.superseded.value)))
        .group_by(ReportSubmission.target_id)
        .subquery()
    )
    rows = (
        await session.execute(
            select(ReportTarget, Organization.name, Organization.level, versions.c.n, User.full_name)
            .join(Organization, Organization.id == ReportTarget.organization_id)
            .outerjoin(versions, versions.c.target_id == ReportTarget.id)
            .outerjoin(User, User.id == ReportTarget.assignee_id)
            .where(ReportTarget.request_id == request_id)
            .order_by(ReportTarget.position)
        )
    ).all()
    result = [
        TargetRow(
            t.id,
            t.organization_id,
            name,
            level.value if hasattr(level, "value") else str(level),
            target_state(t, now),
            t.deadline,
            t.submitted_at,
            int(n or 0),
            assignee,
        )
        for t, name, level, n, assignee in rows
    ]
    if state:
        result = [r for r in result if r.state == state]
    result.sort(key=lambda r: (STATE_ORDER.get(r.state, 9), r.deadline))
    return result


async def target_row(session: AsyncSession, *, target: ReportTarget, now: datetime | None = None) -> TargetRow:
    org = await session.get(Organization, target.organization_id)
    n = await session.scalar(
        select(func.count())
        .select_from(ReportSubmission)
        .where(
            ReportSubmission.target_id == target.id,
            ReportSubmission.status.in_((SubmissionStatus.submitted.value, SubmissionStatus.superseded.value)),
        )
    )
    assignee = await session.get(User, target.assignee_id) if target.assignee_id else None
    return TargetRow(
        target.id,
        target.organization_id,
        org.name if org else "",
        org.level.value if org else "",
        target_state(target, now),
        target.deadline,
        target.submitted_at,
        int(n or 0),
        assignee.full_name if assignee else None,
    )


async def _event(session: AsyncSession, req: ReportRequest, kind: str, target: ReportTarget | None = None) -> None:
    payload: dict[str, Any] = {
        "request_id": req.id,
        "status": req.status,
        "progress": (await progress(session, request_id=req.id)).as_dict(),
    }
    if target is not None:
        payload["target"] = (await target_row(session, target=target)).as_dict()
    await publish(session, channel=channel(req.id), kind=kind, payload=payload)


@dataclass
class RequestCard:
    request: ReportRequest
    organization: str
    progress: Progress
    my_target: ReportTarget | None = None


async def list_requests(session: AsyncSession, *, principal: Principal, status: str | None = None, limit: int = 200) -> list[RequestCard]:
    """Requests sent by the principal's organisations, newest first."""
    orgs = principal.orgs_with(*REQUESTER_ROLES, Role.auditor, Role.admin)
    if not orgs:
        return []
    query = select(ReportRequest, Organization.name).join(Organization).where(ReportRequest.organization_id.in_(orgs))
    if status:
        query = query.where(ReportRequest.status == status)
    rows = (await session.execute(query.order_by(ReportRequest.id.desc()).limit(limit))).all()
    return [RequestCard(req, name, await progress(session, request_id=req.id)) for req, name in rows]


async def list_received(session: AsyncSession, *, principal: Principal, limit: int = 200) -> list[tuple[ReportRequest, ReportTarget, str]]:
    """Requests addressed to the principal's own organisations (their part only), open first."""
    own = {oid for oid, roles in principal.roles.items() if roles & set(SUBMITTER_ROLES + (Role.clerk,))}
    if not own:
        return []
    rows = (
        await session.execute(
            select(ReportRequest, ReportTarget, Organization.name)
            .join(ReportTarget, ReportTarget.request_id == ReportRequest.id)
            .join(Organization, Organization.id == ReportRequest.organization_id)
            .where(ReportTarget.organization_id.in_(own), ReportTarget.status != TargetStatus.pending.value)
            .order_by(ReportTarget.first_submitted_at.is_not(None), ReportTarget.deadline)
            .limit(limit)
        )
    ).all()
    return [(r, t, n) for r, t, n in rows]


def waiting_query(principal: Principal) -> Select[int] | None:
    """Navigation badge: reports my organisations still owe (and approvals waiting for me); None
    for someone whose roles submit none."""
    own = {oid for oid, roles in principal.roles.items() if roles & set(SUBMITTER_ROLES)}
    if not own:
        return None
    return (
        select(func.count())
        .select_from(ReportTarget)
        .join(ReportRequest)
        .where(
            ReportTarget.organization_id.in_(own),
            ReportRequest.status == RequestStatus.open.value,
            ReportTarget.status.in_((TargetStatus.delivered.value, TargetStatus.awaiting_approval.value)),
        )
    )


async def submissions_of(session: AsyncSession, *, target_id: int) -> list[tuple[ReportSubmission, str | None, str | None]]:
    """A target's submissions, newest first, with who made and who decided them."""
    maker = select(User.full_name).where(User.id == ReportSubmission.created_by_id).scalar_subquery()
    decider = select(User.full_name).where(User.id == ReportSubmission.decided_by_id).scalar_subquery()
    rows = (
        await session.execute(
            select(ReportSubmission, maker, decider)
            .where(ReportSubmission.target_id == target_id)
            .order_by(ReportSubmission.version.desc())
        )
    ).all()
    return [(s, m, d) for s, m, d in rows]


def figures_of(sub: ReportSubmission) -> dict[str, str]:
    return json.loads(sub.figures or "{}")


# --- delivery (called by the target's workflow) ---------------------------------------------------


async def _users_with(session: AsyncSession, organization_id: int, roles: Iterable[Role]) -> list[int]:
    return list(
        (
            await session.scalars(
                select(RoleAssignment.user_id)
                .join(User, User.id == RoleAssignment.user_id)
                .where(RoleAssignment.organization_id == organization_id, RoleAssignment.role.in_(list(roles)), User.active.is_(True))
            )
        ).all()
    )


@dataclass
class TargetSnapshot:
    request_id: int
    organization_id: int
    status: str
    deadline: datetime
    request_status: str
    finished: bool
    pending: list[str] = field(default_factory=list)
    target_id: int | None = None


def _finished(req: ReportRequest, target: ReportTarget) -> bool:
    return target.first_submitted_at is not None or target.status == TargetStatus.missing.value or req.status != RequestStatus.open.value


async def _snapshot(session: AsyncSession, req: ReportRequest, target: ReportTarget) -> TargetSnapshot:
    from services.deadlines.ladder import due_instant
    from services.deadlines.service import sent_steps

    finished = _finished(req, target)
    pending: list[str] = []
    if not finished:
        sent = await sent_steps(session, kind="report_target", object_id=target.id, due_at=due_instant(target.deadline))
        last = max((i for i, kind in enumerate(NOTICE_KINDS) if kind in sent), default=-1)
        pending = list(NOTICE_KINDS[last + 1 :])
    return TargetSnapshot(req.id, target.organization_id, target.status, target.deadline, req.status, finished, pending, target.id)


async def _target(session: AsyncSession, request_id: int, organization_id: int, *, lock: bool = False) -> ReportTarget:
    query = select(ReportTarget).where(ReportTarget.request_id == request_id, ReportTarget.organization_id == organization_id)
    if lock:
        query = query.with_for_update()
    target = await session.scalar(query)
    if target is None:
        raise _not_found()
    return target


async def deliver(session: AsyncSession, *, settings: Settings, request_id: int, organization_id: int) -> TargetSnapshot:
    """Put the request into the target's incoming register (once) and tell its clerk and leader."""
    req = await get_request(session, request_id=request_id)
    target = await _target(session, request_id, organization_id, lock=True)
    if target.incoming_id is None and req.status == RequestStatus.open.value:
        if req.letter_outgoing_id is not None:
            target.incoming_id = await _deliver_letter(session, settings=settings, req=req, organization_id=organization_id)
        else:  # a request sent before its letter became an outgoing document (its own DOCX)
            target.incoming_id = await _deliver_own_letter(session, req=req, target=target)
        target.delivered_at = utcnow()
        if target.status == TargetStatus.pending.value:
            target.status = TargetStatus.delivered.value
        target.revision += 1
        sender = await session.get(Organization, req.organization_id)
        await notify(
            session,
            user_ids=await _users_with(session, organization_id, (Role.clerk, *LEADERS, Role.officer)),
            kind="report.received",
            title=_l("Report request: {title}", title=req.title),
            body=_l("{value} asks for the report by {vn:%H:%M %d/%m/%Y}.", value=sender.name if sender else "", vn=_vn(target.deadline)),
            link=f"/reports/{req.id}/targets/{organization_id}",
            dedupe_key=f"report-{req.id}-{organization_id}-received",
            email=False,
        )
    return await _snapshot(session, req, target)


async def deliver_many(
    session: AsyncSession, *, settings: Settings, request_id: int, organization_ids: Sequence[int]
) -> tuple[dict[int, TargetSnapshot], dict[int, DomainError]]:
    """`deliver` to several targets in one transaction: the request, the letter and its signer are
    read once, and the commit is paid once. Each target has its own savepoint, so one
    that cannot be delivered (a domain error) is rolled back alone and named, the others kept."""
    delivered: dict[int, TargetSnapshot] = {}
    refused: dict[int, DomainError] = {}
    # Held here, the rows every delivery reads stay in the session's identity map (it keeps only
    # weak references to unchanged rows): read once for the batch, not once per target.
    req = await get_request(session, request_id=request_id)
    letter = await session.get(OutgoingDocument, req.letter_outgoing_id) if req.letter_outgoing_id else None
    signer = await session.get(User, letter.signer_id) if letter and letter.signer_id else None
    sender = await session.get(Organization, req.organization_id)
    for organization_id in organization_ids:
        try:
            async with session.begin_nested():
                delivered[organization_id] = await deliver(
                    session, settings=settings, request_id=request_id, organization_id=organization_id
                )
        except DomainError as error:
            refused[organization_id] = error
    del req, letter, signer, sender
    return delivered, refused


async def _deliver_letter(session: AsyncSession, *, settings: Settings, req: ReportRequest, organization_id: int) -> int:
    """The issued letter's copy in the target's incoming queue: the outgoing dispatch's own, whichever
    of the two flows gets there first (both key the copy by the letter)."""
    from services.outgoing import service as outgoing

    assert req.letter_outgoing_id is not None
    row = await session.scalar(  # the row itself, not its id: `deliver` finds it in the session
        select(outgoing.OutgoingRecipient).where(
            outgoing.OutgoingRecipient.document_id == req.letter_outgoing_id,
            outgoing.OutgoingRecipient.organization_id == organization_id,
        )
    )
    if row is None:
        raise _not_found()
    incoming_id = await outgoing.deliver(session, settings=settings, document_id=req.letter_outgoing_id, recipient_id=row.id)
    assert incoming_id is not None  # an organisation in the system always gets its copy
    return incoming_id


async def _deliver_own_letter(session: AsyncSession, *, req: ReportRequest, target: ReportTarget) -> int:
    from services.incoming import service as incoming

    assert req.letter_sha256 is not None and req.notation is not None  # written when the request was sent
    files = [(f"{req.notation.replace('/', '-')}.docx", DOCX, req.letter_sha256)]
    if req.template_sha256:
        files.append((req.template_filename or "mau-bao-cao", req.template_content_type or PDF, req.template_sha256))
    creator = await session.get(User, req.created_by_id)
    copy = await incoming.receive_from_system(
        session,
        actor=Actor.system("report-fanout"),
        recipient_org_id=target.organization_id,
        sender_org_id=req.organization_id,
        outgoing_ref=outgoing_ref(req.id),
        number_notation=req.notation,
        document_date=_vn(req.created_at).date(),
        doc_type="CV",
        subject=req.title,
        urgency="normal",
        secrecy="normal",
        due_date=_vn(target.deadline).date(),
        files=files,
        signer_name=creator.full_name if creator else None,
    )
    return copy.id


async def snapshot(session: AsyncSession, *, request_id: int, organization_id: int) -> TargetSnapshot:
    req = await get_request(session, request_id=request_id)
    return await _snapshot(session, req, await _target(session, request_id, organization_id))


async def fanout_progress(session: AsyncSession, *, request_id: int, started: int) -> None:
    """Tell the requester's page how far the fan-out went (after each batch)."""
    req = await get_request(session, request_id=request_id)
    await publish(
        session,
        channel=channel(req.id),
        kind="fanout",
        payload={"request_id": req.id, "started": started, "progress": (await progress(session, request_id=req.id)).as_dict()},
    )


async def send_deadline_notice(session: AsyncSession, *, request_id: int, organization_id: int, kind: str, deadline: datetime) -> bool:
    """A reminder before the deadline, an overdue notice at it, an escalation to the target's
    leader after it; each once per deadline (an extension arms them again). What each says is in
    services/reports/deadlines.py."""
    from services.deadlines import service as deadlines
    from services.deadlines.ladder import due_instant
    from services.reports.deadlines import ReportTargetDeadlines

    target = await _target(session, request_id, organization_id, lock=True)
    return await deadlines.send(session, adapter=ReportTargetDeadlines(), object_id=target.id, step=kind, due_at=due_instant(deadline))


async def deadline_summary(session: AsyncSession, *, request_id: int, deadline: datetime) -> bool:
    """At the request's deadline, tell the requester how many targets have not reported."""
    req = await get_request(session, request_id=request_id)
    if req.status != RequestStatus.open.value or req.deadline != deadline:
        return False
    stats = await progress(session, request_id=req.id)
    users = {req.created_by_id, *await _users_with(session, req.organization_id, LEADERS)}
    await notify(
        session,
        user_ids=users,
        kind="report.deadline",
        title=_l("Report deadline reached: {title}", title=req.title),
        body=_l(
            "{submitted}/{total} reports received; {missing} units have not sent theirs.",
            submitted=stats.submitted,
            total=stats.total,
            missing=stats.missing,
        ),
        link=f"/reports/{req.id}",
        dedupe_key=f"report-{req.id}-deadline-{deadline.isoformat()}",
    )
    return True


# --- submissions ---------------------------------------------------------------------------------


def parse_figures(req: ReportRequest, raw: dict[str, str]) -> dict[str, str]:
    """Check figures against their types; returns them normalised, keyed by field id."""
    values: dict[str, str] = {}
    for spec in req.fields:
        text = (raw.get(str(spec.id)) or "").strip()
        if not text:
            if spec.required:
                raise InvalidInput(_l("Enter {name}.", name=spec.name))
            continue
        if spec.kind == FieldKind.text.value:
            values[str(spec.id)] = text[:2000]
            continue
        number = text.replace(" ", "").replace("%", "")
        if "," in number and "." in number:
            number = number.replace(".", "").replace(",", ".")  # 1.234,5 (Vietnamese) → 1234.5
        elif "," in number:
            number = number.replace(",", ".")
        elif spec.kind == FieldKind.integer.value and re.fullmatch(r"-?\d{1,3}(\.\d{3})+", number):
            number = number.replace(".", "")  # 1.250 people: a thousands separator
        try:
            value = Decimal(number)
        except InvalidOperation:
            raise InvalidInput(_l("{name} must be a number.", name=spec.name)) from None
        if spec.kind == FieldKind.integer.value:
            if value != value.to_integral_value():
                raise InvalidInput(_l("{name} must be a whole number.", name=spec.name))
            values[str(spec.id)] = str(int(value))
        elif spec.kind == FieldKind.percent.value:
            if not Decimal(0) <= value <= Decimal(100):
                raise InvalidInput(_l("{name} is a percentage 0–100.", name=spec.name))
            values[str(spec.id)] = format(value.normalize(), "f")
        else:
            values[str(spec.id)] = format(value.normalize(), "f")
    return values


def _may_submit(principal: Principal, target: ReportTarget) -> bool:
    return principal.user.id == target.assignee_id or bool(principal.roles.get(target.organization_id, set()) & set(SUBMITTER_ROLES))


def _is_target_leader(principal: Principal, target: ReportTarget) -> bool:
    return bool(principal.roles.get(target.organization_id, set()) & set(LEADERS))


async def _accept(
    session: AsyncSession, *, actor: Actor, req: ReportRequest, target: ReportTarget, sub: ReportSubmission, at: datetime
) -> None:
    previous = (
        await session.scalars(
            select(ReportSubmission).where(
                ReportSubmission.target_id == target.id,
                ReportSubmission.status == SubmissionStatus.submitted.value,
                ReportSubmission.id != sub.id,
            )
        )
    ).all()
    for old in previous:
        old.status = SubmissionStatus.superseded.value
    sub.status = SubmissionStatus.submitted.value
    sub.submitted_at = at
    target.submitted_at = at
    if target.first_submitted_at is None:
        target.first_submitted_at = at
        target.on_time = at <= target.deadline
    target.status = TargetStatus.submitted.value
    target.revision += 1
    target.updated_at = utcnow()
    # Lock order (services/db.py): the target's row, then the request's (the last report
    # completes it below), in that order — as closing and extending take them.
    await session.flush()
    await lock_request(session, request_id=req.id)
    org = await session.get(Organization, target.organization_id)
    await record(
        session,
        actor=actor,
        action="report.submit",
        object_type="report_target",
        object_id=target.id,
        organization_id=target.organization_id,
        details={
            "request_id": req.id,
            "version": sub.version,
            "file": sub.sha256,
            "on_time": target.on_time,
            "resubmission": bool(previous),
        },
    )
    await notify(
        session,
        user_ids=[req.created_by_id],
        kind="report.submitted",
        title=_l("{value} sent the report: {title}", value=org.name if org else "", title=req.title),
        link=f"/reports/{req.id}/targets/{target.organization_id}",
        dedupe_key=f"report-{req.id}-{target.organization_id}-v{sub.version}",
        email=False,
    )
    await _event(session, req, "submitted", target)
    if req.status == RequestStatus.open.value:
        left = await session.scalar(
            select(func.count())
            .select_from(ReportTarget)
            .where(ReportTarget.request_id == req.id, ReportTarget.first_submitted_at.is_(None))
        )
        if not left:
            req.status = RequestStatus.completed.value
            req.closed_at = utcnow()
            await record(
                session,
                actor=Actor.system("report-requests"),
                action="report.complete",
                object_type="report_request",
                object_id=req.id,
                organization_id=req.organization_id,
                details={"targets": req.target_count},
            )
            await notify(
                session,
                user_ids=[req.created_by_id],
                kind="report.complete",
                title=_l("All reports received: {title}", title=req.title),
                link=f"/reports/{req.id}",
                dedupe_key=f"report-{req.id}-complete",
            )
            await _event(session, req, "completed")


async def submit(
    session: AsyncSession,
    *,
    principal: Principal,
    settings: Settings,
    request_id: int,
    organization_id: int,
    file: CheckedUpload | None,
    figures: dict[str, str],
    note: str = "",
    at: datetime | None = None,
) -> ReportSubmission:
    """A target's report (file + figures). With `requires_approval` an officer's report waits for
    the target's leader; a resubmission keeps the earlier versions. `at` (imports, tests) is the
    moment the report was handed in; default now."""
    req, target = await target_for(session, principal=principal, request_id=request_id, organization_id=organization_id)
    if not _may_submit(principal, target):
        raise _not_found()
    if req.status == RequestStatus.closed.value:
        raise Conflict(_l("The request is closed and takes no more reports."))
    if req.status == RequestStatus.awaiting_letter.value:
        raise Conflict(_l("The request letter is not issued yet."))
    if target.status == TargetStatus.missing.value:
        raise Conflict(_l("The request is closed for this organisation."))
    values = parse_figures(req, figures)
    last = await session.scalar(
        select(ReportSubmission).where(ReportSubmission.target_id == target.id).order_by(ReportSubmission.version.desc()).limit(1)
    )
    if file is None:
        if last is None or not last.sha256:
            raise InvalidInput(_l("Attach the report file."))
    blobs = BlobStore.for_settings(settings)
    at = at or utcnow()
    sub = ReportSubmission(
        target_id=target.id,
        version=(last.version + 1) if last else 1,
        status=SubmissionStatus.awaiting_approval.value,
        filename=file.filename if file else last.filename,  # type: ignore[union-attr]  # no file: last exists
        content_type=file.content_type if file else last.content_type,  # type: ignore[union-attr]  # no file: last exists
        sha256=blobs.put(file.data) if file else last.sha256,  # type: ignore[union-attr]  # no file: last exists
        size=file.size if file else last.size,  # type: ignore[union-attr]  # no file: last exists
        figures=json.dumps(values, ensure_ascii=False),
        note=note.strip()[:5000],
        created_by_id=principal.user.id,
        created_at=at,
    )
    for old in (
        await session.scalars(
            select(ReportSubmission).where(
                ReportSubmission.target_id == target.id, ReportSubmission.status == SubmissionStatus.awaiting_approval.value
            )
        )
    ).all():
        old.status = SubmissionStatus.superseded.value  # a newer draft replaces one still waiting
    session.add(sub)
    await session.flush()
    if target.assignee_id is None and Role.officer in principal.roles.get(target.organization_id, set()):
        target.assignee_id = principal.user.id
    if req.requires_approval and not _is_target_leader(principal, target):
        if target.first_submitted_at is None:
            target.status = TargetStatus.awaiting_approval.value
        target.revision += 1
        await record(
            session,
            actor=principal.actor,
            action="report.draft",
            object_type="report_target",
            object_id=target.id,
            organization_id=target.organization_id,
            details={"request_id": req.id, "version": sub.version, "file": sub.sha256},
        )
        await notify(
            session,
            user_ids=await _users_with(session, target.organization_id, LEADERS),
            kind="report.approve",
            title=_l("Report awaiting approval: {title}", title=req.title),
            link=f"/reports/{req.id}/targets/{target.organization_id}",
            dedupe_key=f"report-{req.id}-{target.organization_id}-approve-v{sub.version}",
        )
        await _event(session, req, "awaiting_approval", target)
        return sub
    await _accept(session, actor=principal.actor, req=req, target=target, sub=sub, at=at)
    return sub


async def decide(
    session: AsyncSession,
    *,
    principal: Principal,
    request_id: int,
    organization_id: int,
    submission_id: int,
    approve: bool,
    note: str = "",
    at: datetime | None = None,
) -> ReportSubmission:
    """The target's leader approves (the report is submitted) or returns it to the officer."""
    req, target = await target_for(session, principal=principal, request_id=request_id, organization_id=organization_id)
    if not _is_target_leader(principal, target):
        raise _not_found()
    sub = await session.get(ReportSubmission, submission_id)
    if sub is None or sub.target_id != target.id:
        raise _not_found()
    if sub.status != SubmissionStatus.awaiting_approval.value:
        raise Conflict(_l("This report no longer waits for approval."))
    if req.status == RequestStatus.closed.value:
        raise Conflict(_l("The request is closed."))
    sub.decided_by_id = principal.user.id
    sub.decided_at = utcnow()
    sub.decision_note = note.strip()[:2000] or None
    if approve:
        await record(
            session,
            actor=principal.actor,
            action="report.approve",
            object_type="report_target",
            object_id=target.id,
            organization_id=target.organization_id,
            details={"request_id": req.id, "version": sub.version},
        )
        await _accept(session, actor=principal.actor, req=req, target=target, sub=sub, at=at or utcnow())
    else:
        if not note.strip():
            raise InvalidInput(_l("Give the reason for returning the report so the officer can correct it."))
        sub.status = SubmissionStatus.rejected.value
        if target.first_submitted_at is None:
            target.status = TargetStatus.delivered.value
        target.revision += 1
        await record(
            session,
            actor=principal.actor,
            action="report.return",
            object_type="report_target",
            object_id=target.id,
            organization_id=target.organization_id,
            details={"request_id": req.id, "version": sub.version, "reason": note.strip()},
        )
        if sub.created_by_id:
            await notify(
                session,
                user_ids=[sub.created_by_id],
                kind="report.returned",
                title=_l("Report returned: {title}", title=req.title),
                body=note.strip(),
                link=f"/reports/{req.id}/targets/{target.organization_id}",
                dedupe_key=f"report-{req.id}-{target.organization_id}-returned-v{sub.version}",
            )
        await _event(session, req, "returned", target)
    return sub


async def assign(session: AsyncSession, *, principal: Principal, request_id: int, organization_id: int, user_id: int) -> ReportTarget:
    """The target's leader or clerk names the officer who prepares the report."""
    req, target = await target_for(session, principal=principal, request_id=request_id, organization_id=organization_id)
    if not principal.roles.get(organization_id, set()) & {*LEADERS, Role.clerk}:
        raise _not_found()
    user = await session.get(User, user_id)
    if user is None or user.organization_id != organization_id or not user.active:
        raise InvalidInput(_l("Choose someone of your organisation."))
    target.assignee_id = user.id
    target.revision += 1
    await record(
        session,
        actor=principal.actor,
        action="report.assign",
        object_type="report_target",
        object_id=target.id,
        organization_id=organization_id,
        details={"request_id": req.id, "user_id": user.id, "name": user.full_name},
    )
    await notify(
        session,
        user_ids=[user.id],
        kind="report.assigned",
        title=_l("Assigned to prepare a report: {title}", title=req.title),
        body=_l("Due {vn:%H:%M %d/%m/%Y}.", vn=_vn(target.deadline)),
        link=f"/reports/{req.id}/targets/{organization_id}",
        dedupe_key=f"report-{req.id}-{organization_id}-assigned-{user.id}-{target.revision}",
    )
    await _event(session, req, "assigned", target)
    return target


# --- the requester's actions ------------------------------------------------------------------------


async def extend(
    session: AsyncSession,
    *,
    principal: Principal,
    request_id: int,
    deadline: datetime,
    organization_id: int | None = None,
    reason: str = "",
) -> list[int]:
    """Move the deadline of one target (or of every target without a report); returns the
    organisation IDs whose workflows must be told (`changed`)."""
    req = await request_for(session, principal=principal, request_id=request_id)
    if not can_manage(principal, req):
        raise _not_found()
    if req.status != RequestStatus.open.value:
        raise Conflict(_l("The request is no longer open."))
    if deadline <= utcnow():
        raise InvalidInput(_l("The new deadline must be in the future."))
    query = select(ReportTarget).where(
        ReportTarget.request_id == req.id, ReportTarget.first_submitted_at.is_(None), ReportTarget.status != TargetStatus.missing.value
    )
    if organization_id is not None:
        query = query.where(ReportTarget.organization_id == organization_id)
    targets = (await session.scalars(query)).all()
    if organization_id is not None and not targets:
        raise Conflict(_l("This target has already reported."))
    await session.execute(
        update(ReportTarget)
        .where(ReportTarget.id.in_([t.id for t in targets]))
        .values(deadline=deadline, revision=ReportTarget.revision + 1, updated_at=utcnow())
    )
    if organization_id is None:
        req.deadline = deadline
    await record(
        session,
        actor=principal.actor,
        action="report.extend",
        object_type="report_request",
        object_id=req.id,
        organization_id=req.organization_id,
        details={"deadline": deadline.isoformat(), "organization_id": organization_id, "targets": len(targets), "reason": reason.strip()},
    )
    link_due = f"{_vn(deadline):%H:%M %d/%m/%Y}"
    for t in targets:
        users = [t.assignee_id] if t.assignee_id else await _users_with(session, t.organization_id, (Role.clerk, *LEADERS))
        await notify(
            session,
            user_ids=users,
            kind="report.extended",
            title=_l("Report deadline extended: {title}", title=req.title),
            body=_l("New deadline: {due}. {reason}", due=link_due, reason=reason.strip()),
            link=f"/reports/{req.id}/targets/{t.organization_id}",
            dedupe_key=f"report-{req.id}-{t.organization_id}-extended-{deadline.isoformat()}",
            email=False,
        )
    await session.flush()
    await _event(session, req, "extended")
    return [t.organization_id for t in targets]


async def close(
    session: AsyncSession, *, principal: Principal | None, request_id: int, reason: str = "", actor: Actor | None = None
) -> list[int]:
    """Close the request (early or after the deadline): targets without a report are missing.
    Closed before its letter went out, it is withdrawn: nothing reached the targets, nobody is
    missing. Returns the organisation IDs whose workflows are still waiting."""
    req = await get_request(session, request_id=request_id)
    if principal is not None:
        if not can_follow(principal, req) or not can_manage(principal, req):
            raise _not_found()
        actor = principal.actor
    if req.status not in (RequestStatus.open.value, RequestStatus.awaiting_letter.value):
        return []
    withdrawn = req.status == RequestStatus.awaiting_letter.value
    open_ids: list[int] = []
    if not withdrawn:
        open_ids = list(
            (
                await session.scalars(
                    select(ReportTarget.organization_id).where(ReportTarget.request_id == req.id, ReportTarget.first_submitted_at.is_(None))
                )
            ).all()
        )
        await session.execute(
            update(ReportTarget)
            .where(ReportTarget.request_id == req.id, ReportTarget.first_submitted_at.is_(None))
            .values(status=TargetStatus.missing.value, revision=ReportTarget.revision + 1, updated_at=utcnow())
        )
        await session.execute(
            update(ReportSubmission)
            .where(
                ReportSubmission.status == SubmissionStatus.awaiting_approval.value,
                ReportSubmission.target_id.in_(select(ReportTarget.id).where(ReportTarget.request_id == req.id)),
            )
            .values(status=SubmissionStatus.superseded.value)
        )
    req.status = RequestStatus.closed.value
    req.closed_at = utcnow()
    req.closed_by_id = principal.user.id if principal else None
    req.close_reason = reason.strip() or None
    await record(
        session,
        actor=actor or Actor.system("report-requests"),
        action="report.close",
        object_type="report_request",
        object_id=req.id,
        organization_id=req.organization_id,
        details={"reason": reason.strip(), "missing": len(open_ids)} | ({"withdrawn": True} if withdrawn else {}),
    )
    await session.flush()
    await _event(session, req, "closed")
    return open_ids


async def finish(session: AsyncSession, *, request_id: int) -> str:
    """The parent workflow's last step: the final state for the record."""
    req = await get_request(session, request_id=request_id)
    stats = await progress(session, request_id=req.id)
    return f"{req.status}:{stats.on_time}/{stats.late}/{stats.missing}"


async def fanout_targets(session: AsyncSession, *, request_id: int) -> tuple[list[int], datetime, str]:
    """The ordered target organisation IDs, the request's deadline and status (parent workflow)."""
    req = await get_request(session, request_id=request_id)
    ids = list(
        (
            await session.scalars(
                select(ReportTarget.organization_id).where(ReportTarget.request_id == request_id).order_by(ReportTarget.position)
            )
        ).all()
    )
    return ids, req.deadline, req.status


async def waiting_targets(session: AsyncSession, *, request_id: int) -> list[int]:
    """Organisation IDs of targets without a report (their workflows are still waiting)."""
    return list(
        (
            await session.scalars(
                select(ReportTarget.organization_id).where(ReportTarget.request_id == request_id, ReportTarget.first_submitted_at.is_(None))
            )
        ).all()
    )


async def letter_of(session: AsyncSession, req: ReportRequest) -> OutgoingDocument | None:
    """The request's letter (an outgoing document), or None for requests from before letters were."""
    if req.letter_outgoing_id is None:
        return None
    from services.outgoing import service as outgoing

    return await outgoing.get(session, document_id=req.letter_outgoing_id)


async def _letter_file(session: AsyncSession, req: ReportRequest) -> tuple[str, str, str]:
    """The letter as issued (signed and sealed PDF), or its draft DOCX until then."""
    doc = await letter_of(session, req)
    if doc is not None:
        if doc.issued_pdf_sha and doc.notation:
            return (f"{doc.notation.replace('/', '-')}.pdf", PDF, doc.issued_pdf_sha)
        return (f"du-thao-cong-van-yeu-cau-bao-cao-{req.id}.docx", DOCX, req.letter_sha256 or "")
    return (f"{(req.notation or str(req.id)).replace('/', '-')}.docx", DOCX, req.letter_sha256 or "")


async def blob_for(
    session: AsyncSession,
    *,
    principal: Principal,
    request_id: int,
    kind: str,
    organization_id: int | None = None,
    submission_id: int | None = None,
) -> tuple[str, str, str]:
    """(filename, content type, sha256) of a file the principal may download; audited."""
    req = await get_request(session, request_id=request_id)
    if kind in ("letter", "template"):
        visible = can_follow(principal, req) or bool(
            await session.scalar(
                select(ReportTarget.id).where(ReportTarget.request_id == req.id, ReportTarget.organization_id.in_(principal.visible_orgs()))
            )
        )
        if not visible:
            raise _not_found()
        if kind == "letter":
            result = await _letter_file(session, req)
        elif req.template_sha256:
            result = (req.template_filename or "mau", req.template_content_type or PDF, req.template_sha256)
        else:
            raise _not_found()
    else:
        if organization_id is None:
            raise _not_found()
        _, target = await target_for(session, principal=principal, request_id=request_id, organization_id=organization_id)
        sub = await session.get(ReportSubmission, submission_id or 0)
        if sub is None or sub.target_id != target.id or not sub.sha256:
            raise _not_found()
        result = (sub.filename or "bao-cao", sub.content_type or PDF, sub.sha256)
    await record(
        session,
        actor=principal.actor,
        action="report.download",
        object_type="report_request",
        object_id=req.id,
        organization_id=req.organization_id,
        details={"kind": kind, "organization_id": organization_id, "file": result[2]},
    )
    return result


def vn_deadline_text(value: datetime) -> str:
    return f"{_vn(value):%H:%M %d/%m/%Y}"
