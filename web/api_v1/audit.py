"""The audit trail (nhật ký) for auditors over the public API, read only: the same filters,
scope and service functions as the pages (web/routes/audit.py), answered as JSON.

Entries never change, so they carry no ETag; their `entry_hash` is what names them.
"""

from __future__ import annotations

import json
from datetime import date, datetime
from typing import Annotated, Any

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, Field
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import service as audit
from services.audit.models import AuditEntry
from services.errors import Forbidden, NotFound
from services.i18n import _l
from web import audit_view
from web.deps import AuditorUser, SessionDep
from web.routes.audit import _filters as page_filters  # the page's scope and filter rules, not a copy
from web.routes.audit import _sees_whole_trail as sees_whole_trail

router = APIRouter(prefix="/api/v1/audit", tags=["api v1: audit trail"])
PAGE_MAX = 100
TIMELINE_MAX = 500  # as the page's timeline


class ObjectLabelOut(BaseModel):
    kind: str = Field(description='What the object is, in the caller\'s language ("Văn bản đến")')
    text: str = Field(description='What people call it ("15/KH-UBND — Về việc …")')
    page: str | None = Field(description="The page where it is read, if any")


class DetailOut(BaseModel):
    label: str
    value: str


class EntryOut(BaseModel):
    seq: int
    at: datetime
    actor_id: int | None
    actor_name: str | None
    organization_id: int | None
    action: str = Field(description='e.g. "incoming.register", "auth.login"')
    object_type: str | None
    object_id: str | None
    ip: str | None
    details: dict[str, Any] = Field(description="As recorded (hashed into the chain)")
    readable: list[DetailOut] = Field(description="The details in people's words, people and organisations by name")
    prev_hash: str
    entry_hash: str
    object: ObjectLabelOut | None


class CheckpointOut(BaseModel):
    first_seq: int
    last_seq: int
    merkle_root: str
    tree: int = Field(
        description="The Merkle tree format: 1 binary over re-hashed entry hashes (RFC 6962), 2 256-ary over the entry hashes"
    )
    created_at: datetime
    key_id: str


class AuditPage(BaseModel):
    items: list[EntryOut] = Field(description="Newest first")
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last")
    whole_trail: bool = Field(description="The caller may verify and export the whole chain (an auditor of the top level)")
    checkpoint: CheckpointOut | None = Field(description="The latest signed checkpoint")


class Timeline(BaseModel):
    object_type: str
    object_id: str
    object: ObjectLabelOut
    items: list[EntryOut] = Field(description="Oldest first, at most 500")


class Verification(BaseModel):
    ok: bool
    first_bad_seq: int | None
    problems: list[str]
    entries_checked: int
    checkpoints_checked: int
    entries_rechecked: int


def _label(label: audit_view.ObjectLabel) -> ObjectLabelOut:
    return ObjectLabelOut(kind=label.kind, text=label.text, page=label.page)


async def _entries(session: AsyncSession, entries: list[AuditEntry]) -> list[EntryOut]:
    labels = await audit_view.object_labels(session, entries)
    readable = await audit_view.readable_details(session, entries)
    return [
        EntryOut(
            seq=e.seq,
            at=e.at,
            actor_id=e.actor_id,
            actor_name=e.actor_name,
            organization_id=e.organization_id,
            action=e.action,
            object_type=e.object_type,
            object_id=e.object_id,
            ip=e.ip,
            details=json.loads(e.details or "{}"),
            readable=[DetailOut(label=k, value=v) for k, v in readable.get(e.seq, [])],
            prev_hash=e.prev_hash,
            entry_hash=e.entry_hash,
            object=_label(labels[(e.object_type, e.object_id or "")]) if e.object_type else None,
        )
        for e in entries
    ]


@router.get("", response_model=AuditPage)
async def search(
    principal: AuditorUser,
    session: SessionDep,
    object_type: Annotated[str | None, Query(max_length=64, description='e.g. "incoming", "outgoing", "task", "report_request"')] = None,
    object_id: Annotated[str | None, Query(max_length=64)] = None,
    actor: Annotated[int | None, Query(description="A user's id")] = None,
    org: Annotated[int | None, Query(description="An organisation of the caller's scope, with those below it")] = None,
    action: Annotated[str | None, Query(max_length=64, description='An action or a family by its prefix ("incoming.")')] = None,
    since: Annotated[date | None, Query(description="From this day (Vietnam time)")] = None,
    until: Annotated[date | None, Query(description="To this day, included")] = None,
    notation: Annotated[str, Query(max_length=100, description="The documents of this number and notation")] = "",
    # The last entry's sequence number: the trail only grows, so a page never shifts.
    cursor: Annotated[str | None, Query(pattern=r"^[0-9]{1,12}$", description="`next_cursor` of the previous page")] = None,
    limit: Annotated[int, Query(ge=1, le=PAGE_MAX)] = 50,
) -> AuditPage:
    """The trail of the organisations the caller audits, filtered as on the audit page."""
    params = {
        "object_type": object_type or "",
        "object_id": object_id or "",
        "actor": "" if actor is None else str(actor),
        "org": "" if org is None else str(org),
        "action": action or "",
        "since": since.isoformat() if since else "",
        "until": until.isoformat() if until else "",
    }
    filters = page_filters(principal, params)
    if notation := notation.strip():
        filters.objects = await audit_view.find_by_notation(session, notation, filters.organization_ids or [])
    entries = await audit.search(session, filters=filters, before_seq=int(cursor) if cursor else None, limit=limit + 1)
    more, entries = len(entries) > limit, entries[:limit]
    checkpoint = await audit.latest_checkpoint(session)
    return AuditPage(
        items=await _entries(session, entries),
        next_cursor=str(entries[-1].seq) if more and entries else None,
        whole_trail=sees_whole_trail(principal),
        checkpoint=CheckpointOut(
            first_seq=checkpoint.first_seq,
            last_seq=checkpoint.last_seq,
            merkle_root=checkpoint.merkle_root,
            tree=checkpoint.tree,
            created_at=checkpoint.created_at,
            key_id=checkpoint.key_id,
        )
        if checkpoint
        else None,
    )


@router.get("/object/{object_type}/{object_id}", response_model=Timeline)
async def object_timeline(principal: AuditorUser, session: SessionDep, object_type: str, object_id: str) -> Timeline:
    """Everything that happened to one object, oldest first."""
    filters = page_filters(principal, {"object_type": object_type, "object_id": object_id})
    # An object of an organisation outside the auditor's scope is not theirs to know of: 404, as the page.
    if not await audit_view.object_organization(session, object_type, object_id) & set(filters.organization_ids or []):
        raise NotFound(_l("No such object in your audit scope."))
    entries = list(reversed(await audit.search(session, filters=filters, limit=TIMELINE_MAX)))
    labels = await audit_view.labels_of(session, {(object_type, object_id)})
    return Timeline(
        object_type=object_type,
        object_id=object_id,
        object=_label(labels[(object_type, object_id)]),
        items=await _entries(session, entries),
    )


@router.get("/verify", response_model=Verification)
async def verify(request: Request, principal: AuditorUser, session: SessionDep) -> Verification:
    """Recompute the whole hash chain and its signed checkpoints (an auditor of the top level)."""
    if not sees_whole_trail(principal):
        raise Forbidden(_l("Only an auditor of the top-level organisation verifies the whole trail."))
    result = await audit.verify_database(session, data_dir=request.app.state.settings.data_dir)
    return Verification(
        ok=result.ok,
        first_bad_seq=result.first_bad_seq,
        problems=result.problems,
        entries_checked=result.entries_checked,
        checkpoints_checked=result.checkpoints_checked,
        entries_rechecked=result.entries_rechecked,
    )
