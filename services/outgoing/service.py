"""Outgoing documents (văn bản đi): drafting, versions, review, the leader's signature,
issuing with the register number, dispatch to recipients, recall and replacement.

Every change writes its audit entry and a live event (`outgoing-<id>`) in the caller's
transaction. Signing and PDF conversion are not done here (services never import signing/):
the caller passes the signed bytes in, or — for issuing — a `seal` callback that fills the
number and date and applies the organisation's signature once the number is known, so the
number is taken in the very transaction that stores the issued PDF.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from sqlalchemy import ColumnElement, Select, func, inspect, literal, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession

from services import textsearch
from services.audit.service import Actor, record
from services.authz import Principal, require
from services.blobs import BlobStore
from services.calendar import VN_TZ
from services.config import Settings
from services.db import utcnow
from services.directory.models import LEADERS, STAFF, Organization, Role, RoleAssignment, Unit, User
from services.documents.notation import OFFICIAL_LETTER, TYPE_CODES, canonical_type_code, notation, vn_date_line
from services.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.events.service import publish
from services.i18n import Message, _l
from services.notifications.service import notify
from services.outgoing import drafting
from services.outgoing.models import (
    Decision,
    OutgoingAttachment,
    OutgoingDocument,
    OutgoingRecipient,
    OutgoingReview,
    OutgoingVersion,
    ReviewMode,
    Secrecy,
    Status,
    Urgency,
)
from services.uploads import DOCX, CheckedUpload
from services.webhooks import service as webhooks

DRAFT_ROLES = STAFF
SIGNER_ROLES = LEADERS
OPEN = (Status.draft, Status.returned, Status.in_review, Status.awaiting_signature, Status.signed)
ISSUED = (Status.issued, Status.recalled, Status.replaced)
QUEUES = ("drafts", "review", "sign", "issue", "issued")
# Its status is set in many functions; `_event` reports the change to webhooks.
webhooks.track_status(OutgoingDocument.status)
#: edXML status codes shown to the sender (DOMAIN.md).
STATUS_CODES = {
    "01": "arrived",
    "02": "rejected",
    "03": "received",
    "04": "assigned",
    "05": "in_progress",
    "06": "done",
    "13": "recall_requested",
    "15": "recall_accepted",
    "16": "refused",
}


def outgoing_ref(document_id: int) -> str:
    """How a recipient's incoming copy refers back to this document (idempotency key)."""
    return f"outgoing-{document_id}"


def channel(document_id: int) -> str:
    return f"outgoing-{document_id}"


def today_vn() -> dt.date:
    return datetime.now(VN_TZ).date()


# --------------------------------------------------------------------------- input


@dataclass
class DraftFields:
    """What the drafter fills in; recipients are organisation IDs plus outside bodies."""

    doc_type: str
    subject: str
    body: str = ""
    signer_id: int | None = None
    recipient_org_ids: list[int] = field(default_factory=list)
    external_recipients: list[str] = field(default_factory=list)
    authority_prefix: str | None = None
    authority_line: str | None = None
    unit_id: int | None = None
    urgency: Urgency = Urgency.normal
    secrecy: Secrecy = Secrecy.normal
    due_date: dt.date | None = None


@dataclass(frozen=True)
class IssueStamp:
    """What the clerk's issuing writes into the signed PDF."""

    document_id: int
    number: int
    notation: str
    issue_date: dt.date
    date_line: str
    org_code: str
    org_name: str


@dataclass
class IssuedFiles:
    """What the seal callback returns: the issued PDF, sealed PDF attachments, the report."""

    pdf: bytes
    attachments: dict[int, bytes] = field(default_factory=dict)
    report_json: str | None = None


SealCallback = Callable[[IssueStamp], Awaitable[IssuedFiles]]


# --------------------------------------------------------------------------- helpers


def _blobs(settings: Settings) -> BlobStore:
    return BlobStore.for_settings(settings)


def _clean(text: str | None) -> str:
    return (text or "").strip()


async def _event(session: AsyncSession, doc: OutgoingDocument, kind: str) -> None:
    """Every change of a document ends here: the live event and the webhooks."""
    doc.updated_at = utcnow()
    await publish(session, channel=channel(doc.id), kind=kind, payload={"id": doc.id, "status": doc.status.value})
    if (change := webhooks.status_change(doc)) is None:
        return
    events = [("document.status_changed", {"from": change[0], "to": change[1]})]
    if change[1] == Status.issued.value:
        events.append(("outgoing.issued", {"notation": doc.notation or ""}))
    for event_type, data in events:
        await webhooks.emit(
            session,
            event_type=event_type,
            organization_id=doc.organization_id,
            kind="outgoing",
            object_id=doc.id,
            path=_link(doc),
            data=data,
        )


def _link(doc: OutgoingDocument) -> str:
    return f"/outgoing/{doc.id}"


async def users_with(session: AsyncSession, *, organization_id: int, roles: Sequence[Role]) -> list[User]:
    ids = select(RoleAssignment.user_id).where(RoleAssignment.organization_id == organization_id, RoleAssignment.role.in_(list(roles)))
    return list((await session.scalars(select(User).where(User.id.in_(ids), User.active.is_(True)).order_by(User.full_name))).all())


async def signers_of(session: AsyncSession, *, organization_id: int) -> list[User]:
    """Who may sign the organisation's documents (leaders and deputies)."""
    return await users_with(session, organization_id=organization_id, roles=SIGNER_ROLES)


async def reviewers_of(session: AsyncSession, *, organization_id: int) -> list[User]:
    return list(
        (
            await session.scalars(
                select(User).where(User.organization_id == organization_id, User.active.is_(True)).order_by(User.full_name)
            )
        ).all()
    )


async def _check_fields(session: AsyncSession, *, org: Organization, fields: DraftFields) -> DraftFields:
    doc_type = _clean(fields.doc_type)
    if doc_type.upper() == OFFICIAL_LETTER:
        doc_type = OFFICIAL_LETTER
    else:
        doc_type = canonical_type_code(doc_type)
        if doc_type == "BB":
            raise InvalidInput(_l("Minutes are drafted in meetings."))
    subject = _clean(fields.subject)
    if not subject:
        raise InvalidInput(_l("The subject is required."))
    if len(subject) > 500:
        raise InvalidInput(_l("The subject is too long."))
    signers = {u.id for u in await signers_of(session, organization_id=org.id)}
    if fields.signer_id is None or fields.signer_id not in signers:
        raise InvalidInput(_l("Choose a leader of the organisation as signer."))
    if fields.unit_id is not None:
        unit = await session.get(Unit, fields.unit_id)
        if unit is None or unit.organization_id != org.id:
            raise InvalidInput(_l("The drafting unit is not in this organisation."))
    org_ids = sorted(set(fields.recipient_org_ids) - {org.id})
    if org_ids:
        found = set((await session.scalars(select(Organization.id).where(Organization.id.in_(org_ids)))).all())
        if found != set(org_ids):
            raise InvalidInput(_l("Unknown recipient organisation."))
    external = [e.strip().lstrip("-").strip() for e in fields.external_recipients if e.strip().lstrip("-").strip()]
    prefix = _clean(fields.authority_prefix) or None
    if prefix and prefix not in drafting.AUTHORITY_PREFIXES:
        raise InvalidInput(_l("Unknown authority prefix."))
    return DraftFields(
        doc_type=doc_type,
        subject=subject,
        body=fields.body.strip() or drafting.SKELETONS.get(doc_type, ""),
        signer_id=fields.signer_id,
        recipient_org_ids=org_ids,
        external_recipients=external,
        authority_prefix=prefix,
        authority_line=_clean(fields.authority_line) or None,
        unit_id=fields.unit_id,
        urgency=Urgency(fields.urgency),
        secrecy=Secrecy(fields.secrecy),
        due_date=fields.due_date,
    )


async def _set_recipients(session: AsyncSession, doc: OutgoingDocument, fields: DraftFields) -> None:
    existing = list((await session.scalars(select(OutgoingRecipient).where(OutgoingRecipient.document_id == doc.id))).all())
    for row in existing:
        await session.delete(row)
    await session.flush()
    orgs = {o.id: o for o in (await session.scalars(select(Organization).where(Organization.id.in_(fields.recipient_org_ids)))).all()}
    for org_id in fields.recipient_org_ids:
        session.add(OutgoingRecipient(document_id=doc.id, organization_id=org_id, name=orgs[org_id].name))
    for name in fields.external_recipients:
        session.add(OutgoingRecipient(document_id=doc.id, organization_id=None, name=name[:255], external=True))
    await session.flush()


def _apply(doc: OutgoingDocument, fields: DraftFields) -> None:
    doc.doc_type = fields.doc_type
    doc.subject = fields.subject
    doc.body = fields.body
    doc.signer_id = fields.signer_id  # type: ignore[assignment]  # _check_fields refuses None
    doc.authority_prefix = fields.authority_prefix
    doc.authority_line = fields.authority_line
    doc.unit_id = fields.unit_id
    doc.urgency = fields.urgency
    doc.secrecy = fields.secrecy
    doc.due_date = fields.due_date
    doc.external_recipients = "\n".join(fields.external_recipients)


async def recipients(session: AsyncSession, *, document_id: int) -> list[OutgoingRecipient]:
    return list(
        (
            await session.scalars(
                select(OutgoingRecipient).where(OutgoingRecipient.document_id == document_id).order_by(OutgoingRecipient.id)
            )
        ).all()
    )


async def spec_input(session: AsyncSession, *, doc: OutgoingDocument) -> drafting.SpecInput:
    org = await session.get(Organization, doc.organization_id)
    unit = await session.get(Unit, doc.unit_id) if doc.unit_id else None
    signer = await session.get(User, doc.signer_id)
    assert org is not None and signer is not None
    names = [r.name for r in await recipients(session, document_id=doc.id)]
    return drafting.SpecInput(
        doc_type=doc.doc_type,
        subject=doc.subject,
        body=doc.body,
        org_name=org.name,
        org_abbr=org.abbreviation,
        parent_body=org.parent_body,
        place=org.place or "Bến Tre",
        unit_abbr=unit.abbreviation if unit else None,
        recipients=names,
        signer_name=signer.full_name,
        signer_position=signer.position or "Chủ tịch",
        authority_prefix=doc.authority_prefix,
        authority_line=doc.authority_line,
    )


async def _add_version(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor,
    doc: OutgoingDocument,
    source: str,
    filename: str,
    docx: bytes,
    note: str | None,
) -> OutgoingVersion:
    last = await session.scalar(select(func.max(OutgoingVersion.number)).where(OutgoingVersion.document_id == doc.id)) or 0
    version = OutgoingVersion(
        document_id=doc.id,
        number=last + 1,
        source=source,
        filename=filename[:255],
        docx_sha=_blobs(settings).put(docx),
        text=drafting.docx_text(docx),
        note=(note or None),
        created_by_id=actor.user_id or doc.drafter_id,
    )
    session.add(version)
    doc.prepared_pdf_sha = None
    doc.prepared_version = None
    await session.flush()
    await record(
        session,
        actor=actor,
        action="outgoing.version",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"version": version.number, "source": source, "sha256": version.docx_sha, "note": note},
    )
    return version


async def _template_version(
    session: AsyncSession, *, settings: Settings, actor: Actor, doc: OutgoingDocument, note: str | None
) -> OutgoingVersion:
    docx = drafting.render_docx(await spec_input(session, doc=doc))
    name = f"du-thao-{doc.id}.docx"
    return await _add_version(session, settings=settings, actor=actor, doc=doc, source="template", filename=name, docx=docx, note=note)


def check_docx_upload(upload: CheckedUpload) -> None:
    if upload.content_type != DOCX:
        raise InvalidInput(_l("The draft must be a DOCX file."))
    missing = drafting.missing_markers(upload.data)
    if missing:
        raise InvalidInput(
            "Tệp DOCX thiếu các ô đánh dấu " + ", ".join(missing) + " (vị trí chữ ký, số và ngày). "
            "Hãy tải mẫu DOCX của văn bản này, sửa nội dung trong mẫu rồi tải lên lại.",
            "The DOCX lacks the markers " + ", ".join(missing) + ". Download this document's DOCX, edit it, upload again.",
        )


# --------------------------------------------------------------------------- reading


async def get(session: AsyncSession, *, document_id: int, for_update: bool = False) -> OutgoingDocument:
    if for_update:  # locked, and read afresh: the session may hold the row as it was earlier
        query = select(OutgoingDocument).where(OutgoingDocument.id == document_id).with_for_update(key_share=True)
        doc = await session.scalar(query.execution_options(populate_existing=True))
    else:
        doc = await session.get(OutgoingDocument, document_id)
    if doc is None:
        raise NotFound(_l("outgoing document not found"))
    return doc


async def _lock_afresh(session: AsyncSession, doc: OutgoingDocument) -> None:
    """Lock the document's row and reload it: a step that checks its state before changing it
    must see what a concurrent step committed (it waits for that step's lock)."""
    columns = [attr.key for attr in inspect(OutgoingDocument).column_attrs]  # relationships stay as loaded
    await session.refresh(doc, attribute_names=columns, with_for_update={"key_share": True})


async def get_for(session: AsyncSession, *, principal: Principal, document_id: int, for_update: bool = False) -> OutgoingDocument:
    """The document if the principal may see it: anyone in the issuing organisation (or above
    as auditor/admin), and reviewers and the signer named on it."""
    doc = await get(session, document_id=document_id, for_update=for_update)
    if doc.organization_id in principal.visible_orgs():
        return doc
    me = principal.user.id
    if me in (doc.signer_id, doc.drafter_id) or await session.scalar(
        select(OutgoingReview.id).where(OutgoingReview.document_id == doc.id, OutgoingReview.reviewer_id == me)
    ):
        return doc
    require(principal, [], None, "outgoing document")
    raise AssertionError  # pragma: no cover


async def versions(session: AsyncSession, *, document_id: int) -> list[OutgoingVersion]:
    return list(
        (
            await session.scalars(
                select(OutgoingVersion).where(OutgoingVersion.document_id == document_id).order_by(OutgoingVersion.number)
            )
        ).all()
    )


async def version(session: AsyncSession, *, document_id: int, number: int) -> OutgoingVersion:
    found = await session.scalar(
        select(OutgoingVersion).where(OutgoingVersion.document_id == document_id, OutgoingVersion.number == number)
    )
    if found is None:
        raise NotFound(_l("version not found"))
    return found


async def latest_version(session: AsyncSession, *, document_id: int) -> OutgoingVersion:
    found = await session.scalar(
        select(OutgoingVersion).where(OutgoingVersion.document_id == document_id).order_by(OutgoingVersion.number.desc()).limit(1)
    )
    if found is None:
        raise NotFound(_l("no version yet"))
    return found


async def attachments(session: AsyncSession, *, document_id: int) -> list[OutgoingAttachment]:
    return list(
        (
            await session.scalars(
                select(OutgoingAttachment).where(OutgoingAttachment.document_id == document_id).order_by(OutgoingAttachment.id)
            )
        ).all()
    )


async def reviews(session: AsyncSession, *, document_id: int) -> list[OutgoingReview]:
    return list(
        (
            await session.scalars(
                select(OutgoingReview)
                .where(OutgoingReview.document_id == document_id)
                .order_by(OutgoingReview.round, OutgoingReview.position, OutgoingReview.id)
            )
        ).all()
    )


def current_reviews(doc: OutgoingDocument, rows: list[OutgoingReview]) -> list[OutgoingReview]:
    """The reviews that may be decided now: all pending ones in parallel mode, the first
    pending one in sequential mode."""
    if doc.status != Status.in_review:
        return []
    pending = [r for r in rows if r.round == doc.review_round and r.decision == Decision.pending]
    if doc.review_mode == ReviewMode.sequential:
        return pending[:1]
    return pending


def allowed_actions(doc: OutgoingDocument, principal: Principal, review_rows: list[OutgoingReview]) -> set[str]:
    """What this principal may do on the document now (drives the buttons on its page)."""
    me = principal.user.id
    actions: set[str] = set()
    is_drafter = me == doc.drafter_id
    clerk = doc.organization_id in principal.orgs_with(Role.clerk)
    lead = doc.organization_id in principal.orgs_with(*SIGNER_ROLES)
    if doc.status in (Status.draft, Status.returned) and is_drafter:
        actions |= {"edit", "submit", "attach"}
    if doc.status in OPEN and (is_drafter or lead):
        actions.add("cancel")
    if any(r.reviewer_id == me for r in current_reviews(doc, review_rows)):
        actions.add("review")
    if doc.status == Status.awaiting_signature and me == doc.signer_id:
        actions |= {"sign", "return"}
    if doc.status == Status.signed and clerk:
        actions.add("issue")
    if doc.status == Status.issued and (clerk or lead):
        actions |= {"recall", "replace"}
    return actions


def authorize(principal: Principal | None, doc: OutgoingDocument, roles: Sequence[Role], message: Message) -> None:
    """Refuse an action to someone without one of `roles` in the issuing organisation: 404 when the
    document is not theirs to see, 403 when it is. `None` is the system (workflows, seeding)."""
    if principal is None or doc.organization_id in principal.orgs_with(*roles):
        return
    if doc.organization_id not in principal.visible_orgs():
        raise NotFound(_l("Outgoing document not found or not visible to you."))
    raise Forbidden(message)


# --------------------------------------------------------------------------- drafting


async def create_draft(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor,
    organization_id: int,
    fields: DraftFields,
    upload: CheckedUpload | None = None,
    files: Sequence[CheckedUpload] = (),
    source_ref: str | None = None,
    replaces_id: int | None = None,
) -> OutgoingDocument:
    """Create a draft (version 1 from the type's template, or the uploaded DOCX).

    `source_ref` makes the call idempotent for other flows (a meeting's invitation passes
    `meeting-<id>-invitation`: a retried activity finds the draft it created before).
    """
    if source_ref:
        existing = await session.scalar(select(OutgoingDocument).where(OutgoingDocument.source_ref == source_ref))
        if existing is not None:
            return existing
    if actor.user_id is None:
        raise Forbidden(_l("Only a person can draft."))
    org = await session.get(Organization, organization_id)
    if org is None:
        raise NotFound(_l("Organisation not found."))
    checked = await _check_fields(session, org=org, fields=fields)
    if upload is not None:
        check_docx_upload(upload)
    doc = OutgoingDocument(
        organization_id=org.id,
        drafter_id=actor.user_id,
        status=Status.draft,
        source_ref=source_ref,
        replaces_id=replaces_id,
        body="",
        subject="",
        doc_type="CV",
        signer_id=checked.signer_id,
    )
    _apply(doc, checked)
    session.add(doc)
    await session.flush()
    await _set_recipients(session, doc, checked)
    await record(
        session,
        actor=actor,
        action="outgoing.create",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=org.id,
        details={"type": doc.doc_type, "subject": doc.subject, "source_ref": source_ref, "replaces": replaces_id},
    )
    if upload is not None:
        await _add_version(
            session, settings=settings, actor=actor, doc=doc, source="upload", filename=upload.filename, docx=upload.data, note=None
        )
    else:
        await _template_version(session, settings=settings, actor=actor, doc=doc, note=None)
    for item in files:
        await add_attachment(session, settings=settings, actor=actor, doc=doc, upload=item)
    await _event(session, doc, "created")
    return doc


def _editable(doc: OutgoingDocument, actor: Actor) -> None:
    if doc.status not in (Status.draft, Status.returned):
        raise Conflict(_l("Only drafts can be edited."))
    if actor.user_id != doc.drafter_id:
        raise Forbidden(_l("Only the drafter can edit the draft."))


async def update_draft(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor,
    doc: OutgoingDocument,
    fields: DraftFields,
    note: str | None = None,
    upload: CheckedUpload | None = None,
) -> OutgoingVersion:
    """Save edited fields as a new version (rendered from the template, or the uploaded DOCX)."""
    _editable(doc, actor)
    org = await session.get(Organization, doc.organization_id)
    assert org is not None
    checked = await _check_fields(session, org=org, fields=fields)
    _apply(doc, checked)
    await _set_recipients(session, doc, checked)
    if upload is not None:
        check_docx_upload(upload)
        result = await _add_version(
            session, settings=settings, actor=actor, doc=doc, source="upload", filename=upload.filename, docx=upload.data, note=note
        )
    else:
        result = await _template_version(session, settings=settings, actor=actor, doc=doc, note=note)
    await _event(session, doc, "version")
    return result


async def upload_version(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor,
    doc: OutgoingDocument,
    upload: CheckedUpload,
    note: str | None = None,
) -> OutgoingVersion:
    """The drafter's own DOCX as the next version (fields unchanged)."""
    _editable(doc, actor)
    check_docx_upload(upload)
    result = await _add_version(
        session, settings=settings, actor=actor, doc=doc, source="upload", filename=upload.filename, docx=upload.data, note=note
    )
    await _event(session, doc, "version")
    return result


async def add_attachment(
    session: AsyncSession, *, settings: Settings, actor: Actor, doc: OutgoingDocument, upload: CheckedUpload
) -> OutgoingAttachment:
    if doc.status not in (Status.draft, Status.returned):
        raise Conflict(_l("Attachments can only change on drafts."))
    item = OutgoingAttachment(
        document_id=doc.id,
        filename=upload.filename,
        content_type=upload.content_type,
        sha=_blobs(settings).put(upload.data),
        size=upload.size,
    )
    session.add(item)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="outgoing.attach",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"filename": item.filename, "sha256": item.sha, "size": item.size},
    )
    return item


async def remove_attachment(session: AsyncSession, *, actor: Actor, doc: OutgoingDocument, attachment_id: int) -> None:
    _editable(doc, actor)
    item = await session.get(OutgoingAttachment, attachment_id)
    if item is None or item.document_id != doc.id:
        raise NotFound(_l("attachment not found"))
    await session.delete(item)
    await record(
        session,
        actor=actor,
        action="outgoing.detach",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"filename": item.filename, "sha256": item.sha},
    )


# --------------------------------------------------------------------------- review


async def submit(
    session: AsyncSession,
    *,
    actor: Actor,
    doc: OutgoingDocument,
    reviewer_ids: Sequence[int] = (),
    mode: ReviewMode = ReviewMode.sequential,
    due_at: datetime | None = None,
) -> OutgoingDocument:
    """Send the draft to reviewers (in order or all at once), or straight to the signer."""
    _editable(doc, actor)
    reviewer_ids = list(dict.fromkeys(int(r) for r in reviewer_ids))
    if reviewer_ids:
        known = set(
            (await session.scalars(select(User.id).where(User.id.in_(reviewer_ids), User.organization_id == doc.organization_id))).all()
        )
        if known != set(reviewer_ids):
            raise InvalidInput(_l("Reviewers must belong to the organisation."))
        if due_at is not None and due_at <= utcnow():
            raise InvalidInput(_l("The review deadline must be in the future."))
    latest = await latest_version(session, document_id=doc.id)
    if reviewer_ids:
        doc.review_round += 1
        doc.review_mode = ReviewMode(mode)
        for position, user_id in enumerate(reviewer_ids):
            session.add(
                OutgoingReview(
                    document_id=doc.id,
                    round=doc.review_round,
                    position=position,
                    reviewer_id=user_id,
                    due_at=due_at,
                    version_number=latest.number,
                )
            )
        doc.status = Status.in_review
        await session.flush()
        await record(
            session,
            actor=actor,
            action="outgoing.submit",
            object_type="outgoing",
            object_id=doc.id,
            organization_id=doc.organization_id,
            details={
                "round": doc.review_round,
                "mode": doc.review_mode.value,
                "reviewers": reviewer_ids,
                "due_at": due_at.isoformat() if due_at else None,
                "version": latest.number,
            },
        )
        rows = await reviews(session, document_id=doc.id)
        await _rearm_review_deadline(session, doc)
        await _notify_reviewers(session, doc, current_reviews(doc, rows))
    else:
        await _to_signer(session, actor=actor, doc=doc)
    await _event(session, doc, "submitted")
    return doc


async def _rearm_review_deadline(session: AsyncSession, doc: OutgoingDocument) -> None:
    """New reviewers have the turn (a new round, or the next one in order): the review deadline's
    reminder and overdue notice are theirs to receive, even for a due instant already used."""
    from services.deadlines.service import rearm
    from services.outgoing.deadlines import KIND

    await rearm(session, kind=KIND, object_id=doc.id)


async def _notify_reviewers(session: AsyncSession, doc: OutgoingDocument, rows: list[OutgoingReview]) -> None:
    for row in rows:
        await notify(
            session,
            user_ids=[row.reviewer_id],
            kind="outgoing.review",
            title=_l("Comments on a draft: {subject}", subject=doc.subject),
            body=_l("An outgoing document awaits your comments or initials."),
            link=_link(doc),
            dedupe_key=f"outgoing-{doc.id}-review-{row.id}",
        )


async def _to_signer(session: AsyncSession, *, actor: Actor, doc: OutgoingDocument) -> None:
    doc.status = Status.awaiting_signature
    latest = await latest_version(session, document_id=doc.id)
    await record(
        session,
        actor=actor,
        action="outgoing.submit_for_signature",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"version": latest.number, "signer_id": doc.signer_id},
    )
    await notify(
        session,
        user_ids=[doc.signer_id],
        kind="outgoing.sign",
        title=_l("For signature: {subject}", subject=doc.subject),
        body=_l("An outgoing document awaits your digital signature."),
        link=_link(doc),
        dedupe_key=f"outgoing-{doc.id}-sign-v{latest.number}-r{doc.review_round}",
    )


async def decide(
    session: AsyncSession,
    *,
    actor: Actor,
    doc: OutgoingDocument,
    decision: Decision,
    comment: str | None = None,
) -> OutgoingReview:
    """A reviewer initials, comments, or returns the draft to the drafter."""
    rows = await reviews(session, document_id=doc.id)
    mine = next((r for r in current_reviews(doc, rows) if r.reviewer_id == actor.user_id), None)
    if mine is None:
        raise Conflict(_l("It is not your turn to review this document."))
    decision = Decision(decision)
    comment = _clean(comment) or None
    if decision in (Decision.pending, Decision.skipped):
        raise InvalidInput(_l("Invalid decision."))
    if decision in (Decision.commented, Decision.returned) and not comment:
        raise InvalidInput(_l("Write your comment."))
    mine.decision = decision
    mine.comment = comment
    mine.decided_at = utcnow()
    await record(
        session,
        actor=actor,
        action="outgoing.review",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"round": mine.round, "decision": decision.value, "comment": comment, "version": mine.version_number},
    )
    if decision == Decision.returned:
        for row in rows:
            if row.round == doc.review_round and row.decision == Decision.pending:
                row.decision = Decision.skipped
        doc.status = Status.returned
        await notify(
            session,
            user_ids=[doc.drafter_id],
            kind="outgoing.returned",
            title=_l("Draft returned: {subject}", subject=doc.subject),
            body=comment or "",
            link=_link(doc),
            dedupe_key=f"outgoing-{doc.id}-returned-{mine.id}",
        )
    else:
        remaining = [r for r in rows if r.round == doc.review_round and r.decision == Decision.pending]
        if not remaining:
            await _to_signer(session, actor=actor, doc=doc)
        else:
            if doc.review_mode == ReviewMode.sequential:
                await _rearm_review_deadline(session, doc)  # the next reviewer's turn
            await _notify_reviewers(session, doc, current_reviews(doc, rows))
    await session.flush()
    await _event(session, doc, "reviewed")
    return mine


async def return_for_revision(session: AsyncSession, *, actor: Actor, doc: OutgoingDocument, comment: str) -> None:
    """The signer sends the draft back to the drafter with comments instead of signing."""
    await _lock_afresh(session, doc)  # a signature being recorded meanwhile wins; it is seen here
    if doc.status != Status.awaiting_signature or actor.user_id != doc.signer_id:
        raise Conflict(_l("Only the signer can return a document awaiting signature."))
    comment = _clean(comment)
    if not comment:
        raise InvalidInput(_l("Write why you return it."))
    latest = await latest_version(session, document_id=doc.id)
    position = await session.scalar(select(func.count()).select_from(OutgoingReview).where(OutgoingReview.document_id == doc.id)) or 0
    session.add(
        OutgoingReview(
            document_id=doc.id,
            round=doc.review_round,
            position=1000 + position,
            reviewer_id=doc.signer_id,
            decision=Decision.returned,
            comment=comment,
            decided_at=utcnow(),
            version_number=latest.number,
        )
    )
    doc.status = Status.returned
    await record(
        session,
        actor=actor,
        action="outgoing.return",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"comment": comment, "version": latest.number},
    )
    await notify(
        session,
        user_ids=[doc.drafter_id],
        kind="outgoing.returned",
        title=_l("Draft returned by the leader: {subject}", subject=doc.subject),
        body=comment,
        link=_link(doc),
        dedupe_key=f"outgoing-{doc.id}-returned-sign-{latest.number}-{position}",
    )
    await _event(session, doc, "returned")


async def overdue_reviews(session: AsyncSession, *, document_id: int, now: datetime) -> list[OutgoingReview]:
    doc = await get(session, document_id=document_id)
    rows = current_reviews(doc, await reviews(session, document_id=document_id))
    return [r for r in rows if r.due_at is not None and r.due_at <= now]


async def remind_reviewers(session: AsyncSession, *, document_id: int, stage: str) -> int:
    """Remind the reviewers whose turn it is (stage `soon` or `overdue`); once per stage."""
    return len(await remind_current_reviewers(session, document_id=document_id, stage=stage))


async def remind_current_reviewers(session: AsyncSession, *, document_id: int, stage: str) -> list[int]:
    """Remind the reviewers whose turn it is (stage `soon` or `overdue`); returns who was told.
    Keyed by review row and stage, so each reviewer gets each stage once per round."""
    doc = await get(session, document_id=document_id)
    rows = current_reviews(doc, await reviews(session, document_id=document_id))
    told = []
    for row in rows:
        if row.due_at is None:
            continue
        title = ("Sắp đến hạn góp ý: " if stage == "soon" else "Quá hạn góp ý: ") + doc.subject
        created = await notify(
            session,
            user_ids=[row.reviewer_id],
            kind="outgoing.review_reminder",
            title=title,
            body=_l("Comments due: {due:%d/%m/%Y %H:%M}.", due=row.due_at.astimezone(VN_TZ)),
            link=_link(doc),
            dedupe_key=f"outgoing-{doc.id}-review-{row.id}-{stage}",
        )
        if created:
            told.append(row.reviewer_id)
            await record(
                session,
                actor=Actor.system("outgoing-workflow"),
                action="outgoing.review_reminder",
                object_type="outgoing",
                object_id=doc.id,
                organization_id=doc.organization_id,
                details={"reviewer_id": row.reviewer_id, "stage": stage},
            )
    return told


# --------------------------------------------------------------------------- signing


async def store_prepared(session: AsyncSession, *, settings: Settings, document_id: int, version_number: int, pdf: bytes) -> bool:
    """Keep the final PDF (fields added, seal field reserved) made from `version_number`.

    Returns False (and stores nothing) when the document moved on meanwhile.
    """
    doc = await get(session, document_id=document_id)
    latest = await latest_version(session, document_id=doc.id)
    if doc.status != Status.awaiting_signature or latest.number != version_number:
        return False
    if doc.prepared_pdf_sha and doc.prepared_version == version_number:
        return True
    doc.prepared_pdf_sha = _blobs(settings).put(pdf)
    doc.prepared_version = version_number
    await record(
        session,
        actor=Actor.system("outgoing-workflow"),
        action="outgoing.render",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"version": version_number, "sha256": doc.prepared_pdf_sha},
    )
    await _event(session, doc, "rendered")
    return True


async def record_signature(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor,
    doc: OutgoingDocument,
    pdf: bytes,
    method: str,
    report_json: str | None,
) -> OutgoingDocument:
    """Store the leader-signed PDF (signed in the browser with the PIN, or uploaded)."""
    if doc.status != Status.awaiting_signature:
        raise Conflict(_l("The document is not awaiting signature."))
    if actor.user_id != doc.signer_id:
        raise Forbidden(_l("Only the designated signer can sign."))
    if not doc.prepared_pdf_sha:
        raise Conflict(_l("The PDF to sign is not ready yet."))
    doc.leader_pdf_sha = _blobs(settings).put(pdf)
    doc.signed_at = utcnow()
    doc.signed_by_id = actor.user_id
    doc.sign_method = method
    doc.validation_report = report_json
    doc.status = Status.signed
    await record(
        session,
        actor=actor,
        action="outgoing.sign",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"method": method, "sha256": doc.leader_pdf_sha, "version": doc.prepared_version},
    )
    clerks = await users_with(session, organization_id=doc.organization_id, roles=[Role.clerk])
    await notify(
        session,
        user_ids=[u.id for u in clerks] + [doc.drafter_id],
        kind="outgoing.signed",
        title=_l("Awaiting issue: {subject}", subject=doc.subject),
        body=_l("The leader signed; the clerk numbers, seals and issues it."),
        link=_link(doc),
        dedupe_key=f"outgoing-{doc.id}-signed",
    )
    await _event(session, doc, "signed")
    return doc


def series_for(doc: OutgoingDocument) -> str:
    """Secret documents have their own numbering series (DOMAIN.md)."""
    return "mat" if doc.is_secret else "chung"


async def _locked(session: AsyncSession, document_id: int) -> OutgoingDocument:
    doc = await session.scalar(
        select(OutgoingDocument).where(OutgoingDocument.id == document_id).with_for_update().execution_options(populate_existing=True)
    )
    if doc is None:
        raise NotFound(_l("outgoing document not found"))
    return doc


async def _reserve_number(session: AsyncSession, *, actor: Actor, doc: OutgoingDocument, when: dt.date) -> IssueStamp:
    """The document's number and date: taken from the register once, then kept by the document."""
    from services.registers import next_number

    org = await session.get(Organization, doc.organization_id)
    assert org is not None
    if doc.number is None:
        unit = await session.get(Unit, doc.unit_id) if doc.unit_id else None
        series = series_for(doc)
        number = await next_number(session, organization_id=doc.organization_id, kind="outgoing", series=series, year=when.year)
        doc.series, doc.year, doc.number, doc.issue_date = series, when.year, number, when
        doc.notation = notation(
            number=number,
            type_code=None if doc.doc_type == OFFICIAL_LETTER else doc.doc_type,
            org_abbr=org.abbreviation,
            unit_abbr=(unit.abbreviation if unit else "VP") if doc.doc_type == OFFICIAL_LETTER else None,
        )
        await record(
            session,
            actor=actor,
            action="outgoing.number_reserved",
            object_type="outgoing",
            object_id=doc.id,
            organization_id=doc.organization_id,
            details={"number": number, "notation": doc.notation, "series": series, "year": when.year},
        )
    assert doc.number is not None and doc.notation is not None and doc.issue_date is not None
    return IssueStamp(
        document_id=doc.id,
        number=doc.number,
        notation=doc.notation,
        issue_date=doc.issue_date,
        date_line=vn_date_line(org.place or "Bến Tre", doc.issue_date),
        org_code=org.code,
        org_name=org.name,
    )


async def issue(
    session: AsyncSession,
    *,
    settings: Settings,
    principal: Principal | None,
    actor: Actor,
    document_id: int,
    seal: SealCallback,
    issue_date: dt.date | None = None,
) -> OutgoingDocument:
    """Number, date and seal the document, in two short transactions on the caller's session.

    First the document takes its number from the register (or finds the one it took before) and
    that is committed, which frees the register for other issues. Then `seal` fills the number and
    date in and applies the seal — network calls (OCSP, time stamp) that must not hold a lock, so
    `seal` must not use the session. Last, the issued files are stored in a new transaction. If
    sealing fails (a wrong PIN, a crash) the number stays with the document and the next attempt
    uses it: numbers are never skipped or given twice. Issuing an issued document returns it.
    """
    doc = await _locked(session, document_id)
    authorize(principal, doc, [Role.clerk], _l("Only a clerk of the issuing organisation can issue it."))
    if doc.status in ISSUED:
        return doc
    if doc.status != Status.signed or not doc.leader_pdf_sha:
        raise Conflict(_l("The document is not signed yet."))
    stamp = await _reserve_number(session, actor=actor, doc=doc, when=issue_date or today_vn())
    await session.commit()
    files = await seal(stamp)
    doc = await _locked(session, document_id)
    if doc.status in ISSUED:  # issued meanwhile by a concurrent attempt, with the same number
        return doc
    if doc.number != stamp.number or doc.status != Status.signed:
        raise Conflict(_l("The document changed while it was sealed."))
    blobs = _blobs(settings)
    doc.issued_at = utcnow()
    doc.issued_by_id = actor.user_id
    doc.issued_pdf_sha = blobs.put(files.pdf)
    if files.report_json:
        doc.validation_report = files.report_json
    doc.status = Status.issued
    for item in await attachments(session, document_id=doc.id):
        if item.id in files.attachments:
            item.sealed_sha = blobs.put(files.attachments[item.id])
    await session.flush()
    # Lock order (services/db.py): a report request whose letter this is opens below; its row is
    # taken now, after this document's, as closing the request takes them.
    from services.reports.service import letter_issued, lock_request

    await lock_request(session, letter_outgoing_id=doc.id)
    await record(
        session,
        actor=actor,
        action="outgoing.issue",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={
            "number": stamp.number,
            "notation": stamp.notation,
            "series": doc.series,
            "year": doc.year,
            "issue_date": stamp.issue_date.isoformat(),
            "sha256": doc.issued_pdf_sha,
        },
    )
    await notify(
        session,
        user_ids={doc.drafter_id, doc.signer_id},
        kind="outgoing.issued",
        title=_l("Issued {notation}: {subject}", notation=stamp.notation, subject=doc.subject),
        link=_link(doc),
        dedupe_key=f"outgoing-{doc.id}-issued",
    )
    # External recipients that are exchange partners get the package in their drop folder.
    from services.exchange.service import queue_documents

    external = [r.name for r in await recipients(session, document_id=doc.id) if r.external]
    await queue_documents(session, settings=settings, document_id=doc.id, external_names=external)
    # A report request's letter: the request opens with this number.
    await letter_issued(session, actor=actor, document_id=doc.id, number=stamp.number, notation=stamp.notation, year=stamp.issue_date.year)
    await _event(session, doc, "issued")
    return doc


# --------------------------------------------------------------------------- dispatch


async def issued_file_refs(session: AsyncSession, *, doc: OutgoingDocument) -> list[tuple[str, str, str]]:
    """(filename, content type, sha256) of what recipients receive: the issued PDF first,
    then the attachments (PDFs as sealed at issue)."""
    if not doc.issued_pdf_sha or not doc.notation:
        raise Conflict(_l("The document is not issued."))
    safe = doc.notation.replace("/", "_")
    result = [(f"{safe}.pdf", "application/pdf", doc.issued_pdf_sha)]
    for item in await attachments(session, document_id=doc.id):
        result.append((item.filename, item.content_type, item.sealed_sha or item.sha))
    return result


async def deliver(session: AsyncSession, *, settings: Settings, document_id: int, recipient_id: int) -> int | None:
    """Put the issued document into one in-system recipient's incoming queue.

    Idempotent by (document, recipient): the incoming side keys its copy by the recipient
    organisation and `outgoing-<id>`, and the recipient row records the copy it got.
    """
    from services.incoming import service as incoming

    doc = await get(session, document_id=document_id)
    row = await session.get(OutgoingRecipient, recipient_id)
    if row is None or row.document_id != doc.id or row.external or row.organization_id is None:
        raise NotFound(_l("recipient not found"))
    if row.delivered_at is not None:
        return row.incoming_id
    if doc.status not in ISSUED:
        raise Conflict(_l("The document is not issued."))
    # The document's row is locked first (the event below touches it): every transaction that
    # changes a document takes its row before the rows it writes for it. Taken later, a delivery
    # deadlocked with the signature check of the same document on another worker.
    await session.execute(select(OutgoingDocument.id).where(OutgoingDocument.id == doc.id).with_for_update())
    signer = await session.get(User, doc.signer_id)
    files = await issued_file_refs(session, doc=doc)
    assert doc.notation is not None and doc.issue_date is not None  # an issued document has both
    copy = await incoming.receive_from_system(
        session,
        actor=Actor.system("outgoing-dispatch"),
        recipient_org_id=row.organization_id,
        sender_org_id=doc.organization_id,
        outgoing_ref=outgoing_ref(doc.id),
        number_notation=doc.notation,
        document_date=doc.issue_date,
        doc_type=doc.doc_type,
        subject=doc.subject,
        urgency=doc.urgency.value,
        secrecy=doc.secrecy.value,
        due_date=doc.due_date,
        files=files,
        signer_name=signer.full_name if signer else None,
    )
    row.delivered_at = utcnow()
    row.incoming_id = getattr(copy, "id", None)
    row.status_code = "01"
    row.status_at = row.delivered_at
    await record(
        session,
        actor=Actor.system("outgoing-dispatch"),
        action="outgoing.deliver",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"recipient_org_id": row.organization_id, "incoming_id": row.incoming_id},
    )
    await _event(session, doc, "delivered")
    return row.incoming_id


async def refresh_statuses(session: AsyncSession, *, doc: OutgoingDocument) -> list[OutgoingRecipient]:
    """Recipients with the latest status each one reported back (01 arrived … 06 done)."""
    rows = await recipients(session, document_id=doc.id)
    if doc.status not in ISSUED:
        return rows
    try:
        from services.incoming import service as incoming
    except ImportError:  # pragma: no cover - incoming documents not installed
        return rows
    reported = await incoming.sender_statuses(session, outgoing_ref=outgoing_ref(doc.id))
    latest = {_get(item, "recipient_org_id"): item for item in reported}
    for row in rows:
        item = latest.get(row.organization_id)
        if item is not None and row.status_code != str(_get(item, "code")):
            row.status_code = str(_get(item, "code"))
            row.status_at = _get(item, "at")  # type: ignore[assignment]  # the sender status's datetime
    return rows


def _get(item: object, key: str) -> object:
    return item.get(key) if isinstance(item, dict) else getattr(item, key, None)


# Documents whose in-system copies their source delivers: a report request's letter reaches its
# targets through the request's fan-out (in batches, each target tracked), never twice at once.
DELIVERED_BY_SOURCE = ("report-request-",)


async def pending_deliveries(session: AsyncSession, *, document_id: int) -> list[int]:
    """The in-system recipients the outgoing dispatch still has to deliver to."""
    source = await session.scalar(select(OutgoingDocument.source_ref).where(OutgoingDocument.id == document_id))
    if source and source.startswith(DELIVERED_BY_SOURCE):
        return []
    return list(
        (
            await session.scalars(
                select(OutgoingRecipient.id)
                .where(
                    OutgoingRecipient.document_id == document_id,
                    OutgoingRecipient.external.is_(False),
                    OutgoingRecipient.organization_id.is_not(None),
                    OutgoingRecipient.delivered_at.is_(None),
                )
                .order_by(OutgoingRecipient.id)
            )
        ).all()
    )


# --------------------------------------------------------------------------- closing


async def cancel(session: AsyncSession, *, actor: Actor, principal: Principal | None, doc: OutgoingDocument, reason: str) -> None:
    await _lock_afresh(session, doc)  # a number reserved by an issue under way is seen here
    if principal is not None and actor.user_id != doc.drafter_id:
        authorize(principal, doc, SIGNER_ROLES, _l("Only the drafter or a leader can cancel."))
    if doc.status not in OPEN:
        raise Conflict(_l("Only documents not yet issued can be cancelled."))
    if doc.number is not None:
        # The register gave it a number (sealing failed or is under way): the register must not
        # have a gap, so the document is issued with it and then recalled if it is not wanted.
        raise Conflict(_l("The document already holds number {notation}: issue it, then recall it if unwanted.", notation=doc.notation))
    reason = _clean(reason)
    if not reason:
        raise InvalidInput(_l("Write the reason for cancelling."))
    doc.status = Status.cancelled
    doc.closing_reason = reason
    doc.closed_at = utcnow()
    await record(
        session,
        actor=actor,
        action="outgoing.cancel",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"reason": reason},
    )
    await _event(session, doc, "cancelled")


async def recall(
    session: AsyncSession, *, settings: Settings, principal: Principal | None, actor: Actor, doc: OutgoingDocument, reason: str
) -> None:
    """Recall an issued document; every recipient is told (by the workflow, per recipient)."""
    authorize(principal, doc, [Role.clerk, *SIGNER_ROLES], _l("Only a clerk or a leader of the issuing organisation can recall it."))
    if doc.status != Status.issued:
        raise Conflict(_l("Only issued documents can be recalled."))
    reason = _clean(reason)
    if not reason:
        raise InvalidInput(_l("Write the reason for recalling."))
    doc.status = Status.recalled
    doc.closing_reason = reason
    doc.closed_at = utcnow()
    await record(
        session,
        actor=actor,
        action="outgoing.recall",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"reason": reason, "notation": doc.notation},
    )
    from services.exchange.service import queue_recall

    await queue_recall(session, settings=settings, document_id=doc.id)
    await _event(session, doc, "recalled")


async def replace(
    session: AsyncSession,
    *,
    settings: Settings,
    principal: Principal | None,
    actor: Actor,
    doc: OutgoingDocument,
    reason: str,
) -> OutgoingDocument:
    """Mark an issued document as replaced and open the replacing draft (same fields)."""
    authorize(principal, doc, [Role.clerk, *SIGNER_ROLES], _l("Only a clerk or a leader of the issuing organisation can replace it."))
    if doc.status != Status.issued:
        raise Conflict(_l("Only issued documents can be replaced."))
    reason = _clean(reason)
    if not reason:
        raise InvalidInput(_l("Write the reason for replacing."))
    rows = await recipients(session, document_id=doc.id)
    fields = DraftFields(
        doc_type=doc.doc_type,
        subject=doc.subject,
        body=doc.body,
        signer_id=doc.signer_id,
        recipient_org_ids=[r.organization_id for r in rows if r.organization_id],
        external_recipients=[r.name for r in rows if r.external],
        authority_prefix=doc.authority_prefix,
        authority_line=doc.authority_line,
        unit_id=doc.unit_id,
        urgency=doc.urgency,
        secrecy=doc.secrecy,
        due_date=doc.due_date,
    )
    new = await create_draft(
        session, settings=settings, actor=actor, organization_id=doc.organization_id, fields=fields, replaces_id=doc.id
    )
    doc.status = Status.replaced
    doc.closing_reason = reason
    doc.closed_at = utcnow()
    doc.replaced_by_id = new.id
    await record(
        session,
        actor=actor,
        action="outgoing.replace",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"reason": reason, "replaced_by": new.id, "notation": doc.notation},
    )
    await _event(session, doc, "replaced")
    return new


async def notify_recipient(session: AsyncSession, *, document_id: int, recipient_id: int) -> bool:
    """Tell one recipient that the document was recalled or replaced (once per recipient)."""
    doc = await get(session, document_id=document_id)
    row = await session.get(OutgoingRecipient, recipient_id)
    if row is None or row.document_id != doc.id:
        raise NotFound(_l("recipient not found"))
    kind = {Status.recalled: "recall", Status.replaced: "replace"}.get(doc.status)
    if kind is None or row.notice == kind:
        return False
    if row.organization_id is not None and row.delivered_at is not None:
        from services.incoming import service as incoming

        await incoming.sender_withdrew(
            session,
            actor=Actor.system("outgoing-dispatch"),
            recipient_org_id=row.organization_id,
            outgoing_ref=outgoing_ref(doc.id),
            kind=kind,
            reason=doc.closing_reason or "",
        )
        clerks = await users_with(session, organization_id=row.organization_id, roles=[Role.clerk, Role.leader])
        verb = _l("recalled") if kind == "recall" else _l("replaced")
        await notify(
            session,
            user_ids=[u.id for u in clerks],
            kind=f"outgoing.{kind}",
            title=_l("Document {notation} was {verb}: {subject}", notation=doc.notation, verb=verb, subject=doc.subject),
            body=doc.closing_reason or "",
            link=f"/incoming/{row.incoming_id}" if row.incoming_id else None,
            dedupe_key=f"outgoing-{doc.id}-{kind}-{row.id}",
        )
    row.notice = kind
    row.notice_at = utcnow()
    await record(
        session,
        actor=Actor.system("outgoing-dispatch"),
        action="outgoing.notice",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"recipient": row.name, "kind": kind},
    )
    return True


async def pending_notices(session: AsyncSession, *, document_id: int) -> list[int]:
    doc = await get(session, document_id=document_id)
    kind = {Status.recalled: "recall", Status.replaced: "replace"}.get(doc.status)
    if kind is None:
        return []
    return [r.id for r in await recipients(session, document_id=doc.id) if r.notice != kind]


# --------------------------------------------------------------------------- queues


async def queue(
    session: AsyncSession,
    *,
    principal: Principal,
    name: str,
    before: int | None = None,
    limit: int = 30,
    q: str | None = None,
    before_rank: int = 0,
) -> list[OutgoingDocument]:
    """One of the lists: drafts, review, sign, issue, issued (newest first, keyset by id); with
    words `q`, those matching them, ranked as `textsearch.ranked` says."""
    me = principal.user.id
    query = select(OutgoingDocument)
    if name == "drafts":
        query = query.where(OutgoingDocument.drafter_id == me, OutgoingDocument.status.in_(OPEN))
    elif name == "review":
        ids = await _my_review_ids(session, principal)
        query = query.where(OutgoingDocument.id.in_(ids or [0]))
    elif name == "sign":
        query = query.where(OutgoingDocument.signer_id == me, OutgoingDocument.status == Status.awaiting_signature)
    elif name == "issue":
        query = query.where(
            OutgoingDocument.organization_id.in_(principal.orgs_with(Role.clerk) or {0}), OutgoingDocument.status == Status.signed
        )
    elif name == "issued":
        query = query.where(OutgoingDocument.organization_id.in_(principal.visible_orgs() or {0}), OutgoingDocument.status.in_(ISSUED))
    else:
        raise NotFound(_l("unknown list"))
    if words := textsearch.Query.parse(q):
        after = textsearch.Cursor(before_rank, before) if before else None
        return [doc for doc, _ in await textsearch.ranked(session, query, OutgoingDocument, words, after=after, limit=limit)]
    if before:
        query = query.where(OutgoingDocument.id < before)
    return list((await session.scalars(query.order_by(OutgoingDocument.id.desc()).limit(limit))).all())


async def _my_review_ids(session: AsyncSession, principal: Principal) -> list[int]:
    rows = (
        await session.execute(
            select(OutgoingReview, OutgoingDocument)
            .join(OutgoingDocument, OutgoingDocument.id == OutgoingReview.document_id)
            .where(OutgoingDocument.status == Status.in_review, OutgoingReview.decision == Decision.pending)
            .where(OutgoingReview.round == OutgoingDocument.review_round)
            .order_by(OutgoingReview.document_id, OutgoingReview.position)
        )
    ).all()
    first: dict[int, OutgoingReview] = {}
    result = []
    for review, doc in rows:
        if doc.review_mode == ReviewMode.sequential:
            first.setdefault(doc.id, review)
            if first[doc.id] is review and review.reviewer_id == principal.user.id:
                result.append(doc.id)
        elif review.reviewer_id == principal.user.id:
            result.append(doc.id)
    return result


async def review_due(session: AsyncSession, *, principal: Principal, document_ids: list[int]) -> dict[int, datetime | None]:
    """My review deadline per document (for sorting the review list, overdue first)."""
    rows = (
        await session.execute(
            select(OutgoingReview.document_id, OutgoingReview.due_at).where(
                OutgoingReview.document_id.in_(document_ids or [0]),
                OutgoingReview.reviewer_id == principal.user.id,
                OutgoingReview.decision == Decision.pending,
            )
        )
    ).all()
    return {doc_id: due for doc_id, due in rows}


def count_queries(principal: Principal) -> dict[str, Select[int]]:
    """The queues counted in SQL (to sign, to issue, returned drafts); `review_count` is the other."""
    me = principal.user.id

    def counted(*where: ColumnElement[bool]) -> Select[int]:
        return select(func.count()).select_from(OutgoingDocument).where(*where)

    queries = {
        "sign": counted(OutgoingDocument.signer_id == me, OutgoingDocument.status == Status.awaiting_signature),
        "drafts": counted(OutgoingDocument.drafter_id == me, OutgoingDocument.status == Status.returned),
    }
    if clerk_orgs := principal.orgs_with(Role.clerk):
        queries["issue"] = counted(OutgoingDocument.organization_id.in_(clerk_orgs), OutgoingDocument.status == Status.signed)
    return queries


async def review_count(session: AsyncSession, principal: Principal) -> int:
    """Documents whose review waits for this person (their turn, in a sequential review)."""
    return len(await _my_review_ids(session, principal))


async def queue_counts(session: AsyncSession, *, principal: Principal) -> dict[str, int]:
    counts = {"review": await review_count(session, principal), "sign": 0, "issue": 0, "drafts": 0}
    for queue, query in count_queries(principal).items():
        counts[queue] = await session.scalar(query) or 0
    return counts


# --------------------------------------------------------------------------- register


async def register_rows(
    session: AsyncSession, *, organization_id: int, year: int, after: tuple[str, int] = ("", 0), limit: int | None = None
) -> list[dict[str, object]]:
    """Rows of the outgoing register (sổ văn bản đi) in the Decree 30 columns, by series then number.

    A page: the `limit` rows after `after` = (series, number), keyset on the register's order;
    the print takes the whole book."""
    query = (
        select(OutgoingDocument)
        .where(
            OutgoingDocument.organization_id == organization_id,
            OutgoingDocument.year == year,
            OutgoingDocument.number.is_not(None),
            tuple_(OutgoingDocument.series, OutgoingDocument.number) > tuple_(literal(after[0]), literal(after[1])),
        )
        .order_by(OutgoingDocument.series, OutgoingDocument.number)
    )
    docs = (await session.scalars(query if limit is None else query.limit(limit))).all()
    users = {u.id: u for u in (await session.scalars(select(User).where(User.id.in_({d.signer_id for d in docs} or {0})))).all()}
    units = {u.id: u for u in (await session.scalars(select(Unit).where(Unit.organization_id == organization_id))).all()}
    # Every recipient of the page in one query (a year's book would otherwise cost one per document).
    names_of: dict[int, list[str]] = {}
    for row in (
        await session.scalars(
            select(OutgoingRecipient).where(OutgoingRecipient.document_id.in_([d.id for d in docs] or [0])).order_by(OutgoingRecipient.id)
        )
    ).all():
        names_of.setdefault(row.document_id, []).append(row.name)
    rows: list[dict[str, object]] = []
    for doc in docs:
        names = names_of.get(doc.id, [])
        notes = []
        if doc.series == "mat":
            notes.append("Sổ mật")
        if doc.status == Status.recalled:
            notes.append(f"Đã thu hồi: {doc.closing_reason}")
        if doc.status == Status.replaced:
            notes.append(f"Đã thay thế: {doc.closing_reason}")
        rows.append(
            {
                "series": doc.series,
                "number": doc.number,
                "notation": doc.notation,
                "document_date": doc.issue_date,
                "type_and_subject": f"{drafting.type_name(doc.doc_type)}: {doc.subject}",
                "signer": users[doc.signer_id].full_name if doc.signer_id in users else "",
                "recipients": names,
                "file_copy_unit": units[doc.unit_id].name if doc.unit_id in units else "Văn phòng",
                "copies": len(names) + 1,
                "sent_date": doc.issued_at,
                "received_by": "",
                "notes": "; ".join(notes),
            }
        )
    return rows


async def register_size(session: AsyncSession, *, organization_id: int, year: int) -> int:
    """How many documents the year's register holds (every series)."""
    return (
        await session.scalar(
            select(func.count()).where(
                OutgoingDocument.organization_id == organization_id, OutgoingDocument.year == year, OutgoingDocument.number.is_not(None)
            )
        )
        or 0
    )


def report_of(doc: OutgoingDocument) -> dict[str, object] | None:
    if not doc.validation_report:
        return None
    try:
        return json.loads(doc.validation_report)
    except ValueError:
        return None


def all_type_codes() -> list[tuple[str, str]]:
    """(code, Vietnamese name) for the type picker: the templates first, then the rest."""
    rest = [(code, title.capitalize()) for code, title in TYPE_CODES.items() if code not in drafting.TEMPLATES and code != "BB"]
    return list(drafting.TEMPLATES.items()) + rest


# --------------------------------------------------------------------------- other flows


async def create_invitation_draft(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor,
    organization_id: int,
    source_ref: str,
    subject: str,
    body: str,
    signer_id: int,
    recipient_org_ids: Sequence[int] = (),
    external_recipients: Sequence[str] = (),
    unit_id: int | None = None,
    urgency: Urgency = Urgency.normal,
    authority_prefix: str | None = "TM.",
    authority_line: str | None = "BAN THƯỜNG VỤ",
) -> OutgoingDocument:
    """A giấy mời (GM) draft for a meeting; idempotent by `source_ref` (e.g. `meeting-7`).

    The draft then follows the normal path (review, signature, issue, dispatch).
    """
    return await create_draft(
        session,
        settings=settings,
        actor=actor,
        organization_id=organization_id,
        source_ref=source_ref,
        fields=DraftFields(
            doc_type="GM",
            subject=subject,
            body=body,
            signer_id=signer_id,
            recipient_org_ids=list(recipient_org_ids),
            external_recipients=list(external_recipients),
            unit_id=unit_id,
            urgency=urgency,
            authority_prefix=authority_prefix,
            authority_line=authority_line,
        ),
    )
