"""The audit trail in people's words: each object by its number/notation and subject (or title,
or name), its details as labelled fields, and which organisation an object belongs to (so an
auditor sees only the objects of their scope). Reads every domain, hence in `web/`."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.minutes.models import Minutes
from meetings.models import Meeting
from services.audit.models import AuditEntry
from services.directory.models import Organization, Unit, User
from services.incoming.models import IncomingDocument
from services.numbers import is_digits
from services.outgoing.models import OutgoingDocument
from services.reports.models import ReportRequest, ReportTarget
from services.tasks.models import Task
from web.i18n import gettext as _

# object_type -> model; each has `organization_id` (an organisation is its own).
MODELS: dict[str, Any] = {
    "incoming": IncomingDocument,
    "outgoing": OutgoingDocument,
    "meeting": Meeting,
    "minutes": Minutes,
    "report_request": ReportRequest,
    "report_target": ReportTarget,
    "task": Task,
    "user": User,
    "unit": Unit,
    "organization": Organization,
}
# Where each kind of document is read by the people who work on it.
PAGES = {
    "incoming": "/incoming/{id}",
    "outgoing": "/outgoing/{id}",
    "meeting": "/meetings/{id}",
    "report_request": "/reports/{id}",
    "task": "/tasks/{id}",
}
# Details that name a person or an organisation by id: shown by name.
USER_KEYS = {
    "user_id",
    "user_ids",
    "lead_user_id",
    "co_user_ids",
    "info_user_ids",
    "signer_id",
    "owner_id",
    "head_user_id",
    "reviewer_id",
    "from_user_id",
    "to_user_id",
    "to",
    "reviewers",
}
ORG_KEYS = {"organization_id", "organization_ids", "sender_org_id", "recipient_org_id", "parent_id", "targets"}
HASH_KEYS = {"sha256", "docx_sha", "pdf_sha", "docx_sha256", "final_sha", "fingerprint"}


@dataclass(frozen=True)
class ObjectLabel:
    kind: str  # translated kind: "Văn bản đến"
    text: str  # "15/KH-UBND — Về việc …"
    page: str | None = None


def _text(obj: Any, object_type: str, meetings: dict[int, Meeting], requests: dict[int, ReportRequest]) -> str:
    if object_type == "incoming":
        return " — ".join(p for p in (obj.number_notation, obj.subject) if p)
    if object_type == "outgoing":
        return f"{obj.notation or _('draft')} — {obj.subject}"  # the notation holds its number ("05/KH-HLHPN")
    if object_type == "minutes":
        meeting = meetings.get(obj.meeting_id)
        title = meeting.title if meeting else ""
        return " — ".join(p for p in (obj.notation or "", title) if p)
    if object_type == "report_request":
        return " — ".join(p for p in (obj.notation or "", obj.title) if p)
    if object_type == "report_target":
        request = requests.get(obj.request_id)
        return " — ".join(p for p in (request.notation or "", request.title) if p) if request else ""
    if object_type == "user":
        return obj.full_name
    return getattr(obj, "title", None) or getattr(obj, "name", "") or ""


async def _load(session: AsyncSession, pairs: Iterable[tuple[str, str]]) -> dict[tuple[str, str], Any]:
    wanted: dict[str, set[int]] = {}
    for object_type, object_id in pairs:
        if object_type in MODELS and object_id and is_digits(object_id) and int(object_id) < 2**31:
            wanted.setdefault(object_type, set()).add(int(object_id))
    found: dict[tuple[str, str], Any] = {}
    for object_type, ids in wanted.items():
        model = MODELS[object_type]
        for obj in (await session.scalars(select(model).where(model.id.in_(ids)))).all():
            found[(object_type, str(obj.id))] = obj
    return found


async def object_labels(session: AsyncSession, entries: Iterable[AuditEntry]) -> dict[tuple[str, str], ObjectLabel]:
    return await labels_of(session, {(e.object_type, e.object_id or "") for e in entries if e.object_type})


async def labels_of(session: AsyncSession, pairs: set[tuple[str, str]]) -> dict[tuple[str, str], ObjectLabel]:
    """(object_type, object_id) → what people call it, and the page where they read it."""
    objects = await _load(session, pairs)
    meeting_ids = {o.meeting_id for (t, _i), o in objects.items() if t == "minutes"}
    request_ids = {o.request_id for (t, _i), o in objects.items() if t == "report_target"}
    meetings = {m.id: m for m in (await session.scalars(select(Meeting).where(Meeting.id.in_(meeting_ids)))).all()} if meeting_ids else {}
    requests = (
        {r.id: r for r in (await session.scalars(select(ReportRequest).where(ReportRequest.id.in_(request_ids)))).all()}
        if request_ids
        else {}
    )
    labels = {}
    for object_type, object_id in pairs:
        obj = objects.get((object_type, object_id))
        page = PAGES[object_type].format(id=object_id) if object_type in PAGES and obj is not None else None
        text = _text(obj, object_type, meetings, requests) if obj is not None else f"#{object_id}"
        msgid = f"object.{object_type}"
        kind = _(msgid)
        labels[(object_type, object_id)] = ObjectLabel(kind=object_type if kind == msgid else kind, text=text, page=page)
    return labels


async def object_organization(session: AsyncSession, object_type: str, object_id: str) -> set[int]:
    """The organisation(s) an object belongs to: its own row's, else those its trail entries name."""
    obj = (await _load(session, [(object_type, object_id)])).get((object_type, object_id))
    if obj is not None:
        return {obj.id if object_type == "organization" else obj.organization_id}
    rows = await session.scalars(
        select(AuditEntry.organization_id).where(AuditEntry.object_type == object_type, AuditEntry.object_id == object_id).distinct()
    )
    return {org for org in rows.all() if org is not None}


async def find_by_notation(session: AsyncSession, text: str, org_ids: Iterable[int], limit: int = 200) -> list[tuple[str, str]]:
    """Documents whose number/notation contains `text` (any case), within the organisations given."""
    like = f"%{text.strip()}%"
    orgs = list(org_ids)
    found: list[tuple[str, str]] = []
    for object_type, model, column in (
        ("incoming", IncomingDocument, IncomingDocument.number_notation),
        ("outgoing", OutgoingDocument, OutgoingDocument.notation),
        ("minutes", Minutes, Minutes.notation),
        ("report_request", ReportRequest, ReportRequest.notation),
    ):
        query = select(model.id).where(model.organization_id.in_(orgs), column.ilike(like))
        if hasattr(model, "number") and is_digits(text.strip().split("/")[0]) and object_type != "incoming":
            number, _sep, rest = text.strip().partition("/")
            query = select(model.id).where(
                model.organization_id.in_(orgs), or_(column.ilike(like), (model.number == int(number)) & column.ilike(f"%{rest}%"))
            )
        found += [(object_type, str(i)) for i in (await session.scalars(query.limit(limit))).all()]
    return found


def _value(key: str, value: Any, users: dict[int, str], orgs: dict[int, str]) -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(_value(key, v, users, orgs) for v in value)
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_value(k, v, users, orgs)}" for k, v in value.items())
    if key in USER_KEYS and isinstance(value, int):
        return users.get(value, f"#{value}")
    if key in ORG_KEYS and isinstance(value, int):
        return orgs.get(value, f"#{value}")
    if key in HASH_KEYS and isinstance(value, str):
        return value[:12] + "…"
    return str(value)


def _label(key: str) -> str:
    msgid = f"detail.{key}"
    label = _(msgid)
    return key.replace("_", " ").capitalize() if label == msgid else label


async def readable_details(session: AsyncSession, entries: Iterable[AuditEntry]) -> dict[int, list[tuple[str, str]]]:
    """Each entry's details as (label, value) pairs, people and organisations by name."""
    parsed = {e.seq: json.loads(e.details or "{}") for e in entries}
    user_ids: set[int] = set()
    org_ids: set[int] = set()
    for details in parsed.values():
        for key, value in details.items():
            values = value if isinstance(value, list) else [value]
            ints = {v for v in values if isinstance(v, int) and not isinstance(v, bool)}
            (user_ids if key in USER_KEYS else org_ids if key in ORG_KEYS else set()).update(ints)
    users = dict((await session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids)))).tuples().all()) if user_ids else {}
    orgs = (
        dict((await session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(org_ids)))).tuples().all())
        if org_ids
        else {}
    )
    return {
        seq: [(_label(k), _value(k, v, users, orgs)) for k, v in details.items() if v not in (None, "", [], {})]
        for seq, details in parsed.items()
    }
