"""The audit trail in people's words: who acted (a person by name, a process of the system by what
it does), each object by its number/notation and subject (or title, or name), its details as
labelled fields, and which organisation an object belongs to (so an auditor sees only the objects
of their scope). Reads every domain, hence in `web/`. Presentation only: the entries themselves,
and what their hashes cover, stay as written."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.minutes.models import Minutes
from meetings.models import Meeting
from services.audit.models import AuditEntry
from services.directory.models import Organization, Unit, User
from services.i18n import _l
from services.incoming.models import IncomingDocument
from services.numbers import is_digits
from services.outgoing.models import OutgoingDocument
from services.reports.models import ReportRequest, ReportTarget
from services.tasks.models import Task
from web.i18n import fmt_date, fmt_datetime, text
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
    "notified",
    "substitute_user_id",
    "viewers",
}
ORG_KEYS = {"organization_id", "organization_ids", "sender_org_id", "recipient_org_id", "parent_id", "targets"}
HASH_KEYS = {
    "sha256",
    "docx_sha",
    "pdf_sha",
    "docx_sha256",
    "final_sha",
    "fingerprint",
    "signed_sha256",
    "image_sha256",
    "from_sha256",
    "to_sha256",
    "merkle_root",
}
# Details holding a code: the catalogue families that name it, tried in order ({object_type}: the
# entry's). Any code also has a chance as `value.<key>.<code>`.
VALUE_LABELS: dict[str, tuple[str, ...]] = {
    "status": ("status.{object_type}.{value}",),
    "role": ("role.{value}", "meeting.role.{value}"),
    "level": ("level.{value}",),
    "urgency": ("urgency.{value}",),
    "secrecy": ("secrecy.{value}",),
    "decision": ("decision.{value}",),
    "source": ("source.{value}",),
    "mode": ("meeting.mode.{value}",),
    "threshold": ("meeting.threshold.{value}",),
    "visibility": ("meeting.poll.{value}",),
    "object_type": ("object.{value}",),
}
_CODE = re.compile(r"^[a-z][a-z_]*$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
_ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


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


def actor_label(entry: AuditEntry) -> str:
    """Who acted, as people read it: a person by name; a process of the system by what it does
    ("Hệ thống (quy trình văn bản đi)"); a sign-in attempt by the account name typed."""
    if entry.actor_id is not None:
        return entry.actor_name or f"#{entry.actor_id}"
    name = entry.actor_name or "system"
    if entry.action.startswith("auth."):  # nobody is signed in yet: the name is what was typed
        return text(_l("{username} (not signed in)", username=name))
    msgid = f"actor.{name}"
    label = _(msgid)
    return label if label != msgid else text(_l("System ({name})", name=name))


def _code(key: str, value: str, object_type: str) -> str | None:
    """A code's name from the catalogues, when they have one."""
    for pattern in (f"value.{key}.{{value}}", *VALUE_LABELS.get(key, ())):
        msgid = pattern.format(value=value, object_type=object_type)
        label = _(msgid)
        if label != msgid:
            return label
    return None


def _moment(value: str) -> str | None:
    """An ISO date or time (how details store them) as dd/mm/yyyy [HH:mm] in Vietnam time."""
    try:
        if _ISO_DATE.match(value):
            return fmt_date(date.fromisoformat(value))
        if _ISO_TIME.match(value):
            return fmt_datetime(datetime.fromisoformat(value))
    except ValueError:
        return None
    return None


def _value(key: str, value: Any, users: dict[int, str], orgs: dict[int, str], object_type: str = "") -> str:
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if value is None or value == "" or value == []:
        return "—"
    if isinstance(value, list):
        return ", ".join(_value(key, v, users, orgs, object_type) for v in value)
    if isinstance(value, dict):
        if value.keys() == {"from", "to"}:  # a changed field
            return f"{_value(key, value['from'], users, orgs, object_type)} → {_value(key, value['to'], users, orgs, object_type)}"
        return "; ".join(f"{_label(k)}: {_value(k, v, users, orgs, object_type)}" for k, v in value.items())
    if key in USER_KEYS and isinstance(value, int):
        return users.get(value, f"#{value}")
    if key in ORG_KEYS and isinstance(value, int):
        return orgs.get(value, f"#{value}")
    if key in HASH_KEYS and isinstance(value, str):
        return value[:12] + "…"
    if isinstance(value, str):
        if _CODE.match(value) and (label := _code(key, value, object_type)):
            return label
        if moment := _moment(value):
            return moment
    return str(value)


def _label(key: str, action: str = "") -> str:
    """A detail's name: its own for this action when the meaning differs (`detail.<action>.<key>`),
    else the common one (`detail.<key>`)."""
    for msgid in (f"detail.{action}.{key}", f"detail.{key}") if action else (f"detail.{key}",):
        label = _(msgid)
        if label != msgid:
            return label
    return key.replace("_", " ").capitalize()


async def readable_details(session: AsyncSession, entries: Iterable[AuditEntry]) -> dict[int, list[tuple[str, str]]]:
    """Each entry's details as (label, value) pairs, people and organisations by name."""
    entries = list(entries)
    parsed = {e.seq: json.loads(e.details or "{}") for e in entries}
    user_ids: set[int] = set()
    org_ids: set[int] = set()

    def collect(details: dict[str, Any]) -> None:
        for key, value in details.items():
            if isinstance(value, dict):
                collect(value if value.keys() != {"from", "to"} else {key: list(value.values())})
                continue
            values = value if isinstance(value, list) else [value]
            ints = {v for v in values if isinstance(v, int) and not isinstance(v, bool)}
            (user_ids if key in USER_KEYS else org_ids if key in ORG_KEYS else set()).update(ints)

    for details in parsed.values():
        collect(details)
    users = dict((await session.execute(select(User.id, User.full_name).where(User.id.in_(user_ids)))).tuples().all()) if user_ids else {}
    orgs = (
        dict((await session.execute(select(Organization.id, Organization.name).where(Organization.id.in_(org_ids)))).tuples().all())
        if org_ids
        else {}
    )
    return {
        e.seq: [
            (_label(k, e.action), _value(k, v, users, orgs, e.object_type or ""))
            for k, v in parsed[e.seq].items()
            if v not in (None, "", [], {})
        ]
        for e in entries
    }
