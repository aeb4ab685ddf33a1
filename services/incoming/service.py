"""Incoming documents: registration, direction, handling, deadlines and sender statuses.

Every function that changes state takes the session and the acting principal (or `Actor`)
explicitly, checks who may act, writes its audit entry and its live event in the same
transaction, and bumps `revision`. The document's workflow (`incoming-<id>`) reads the
resulting state through `workflow_snapshot` and owns deadlines and who is notified next.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import Select, and_, case, exists, false, func, or_, select, tuple_
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from services import calendar, textsearch
from services.audit.models import AuditEntry
from services.audit.service import Actor, record
from services.authz import Principal, require
from services.blobs import BlobStore
from services.db import utcnow
from services.directory.models import DOCUMENT_READERS, LEADERS, Organization, Role, RoleAssignment, Unit, User
from services.errors import Conflict, Forbidden, InvalidInput, NotFound
from services.events.service import access_changed, publish
from services.i18n import Message, _l
from services.incoming import handling, tally
from services.incoming.models import (
    CLOSED,
    DOC_TYPES,
    OPEN_HANDLING,
    SECRECY,
    URGENCY,
    IncomingAssignment,
    IncomingDocument,
    IncomingFile,
    IncomingNote,
    IncomingSenderStatus,
    Status,
)
from services.notifications.service import notify
from services.outbox import service as outbox
from services.outgoing.models import OutgoingDocument
from services.outgoing.models import Status as OutgoingStatus
from services.registers import next_number
from services.webhooks import service as webhooks

ORG_WIDE_VIEW = DOCUMENT_READERS
SENDER_LABELS = {
    "01": ("Đã đến", "Arrived"),
    "02": ("Bị từ chối, trả lại", "Rejected"),
    "03": ("Đã tiếp nhận", "Received"),
    "04": ("Đã phân công", "Assigned"),
    "05": ("Đang xử lý", "In progress"),
    "06": ("Đã hoàn thành", "Done"),
}
URGENCY_VI = {"normal": "Thường", "urgent": "Khẩn", "very_urgent": "Thượng khẩn", "flash": "Hỏa tốc"}


def _not_found() -> NotFound:
    return NotFound(_l("incoming document not found"))


# --- inputs -------------------------------------------------------------------------------------


@dataclass
class Metadata:
    """What the clerk types when registering (or correcting) a document."""

    issuer_name: str
    number_notation: str
    document_date: date | None
    doc_type: str
    subject: str
    urgency: str = "normal"
    secrecy: str = "normal"
    doc_due_date: date | None = None
    arrival_date: date | None = None
    receiving_unit_id: int | None = None
    issuer_org_id: int | None = None
    backdate_reason: str = ""  # why the arrival date is earlier than the register's last entry

    def cleaned(self) -> Metadata:
        def need(value: str | None, message: Message) -> str:
            value = " ".join((value or "").split())
            if not value:
                raise InvalidInput(message)
            return value

        notation = need(self.number_notation, _l("Number and notation is required."))
        if len(notation) > 64:
            raise InvalidInput(_l("The notation is too long."))
        if self.doc_type not in DOC_TYPES:
            raise InvalidInput(_l("Choose a document type from the list."))
        if self.urgency not in URGENCY:
            raise InvalidInput(_l("Unknown urgency."))
        if self.secrecy not in SECRECY:
            raise InvalidInput(_l("Unknown secrecy level."))
        if self.document_date is None:
            raise InvalidInput(_l("The document date is required."))
        arrival = self.arrival_date or calendar.vn_today()
        if arrival > calendar.vn_today():
            raise InvalidInput(_l("The arrival date {day:%d/%m/%Y} is in the future.", day=arrival))
        if self.document_date > arrival:
            raise InvalidInput(_l("The document date is after the arrival date."))
        return Metadata(
            issuer_name=need(self.issuer_name, _l("Issuer is required."))[:255],
            number_notation=notation,
            document_date=self.document_date,
            doc_type=self.doc_type,
            subject=need(self.subject, _l("Subject is required.")),
            urgency=self.urgency,
            secrecy=self.secrecy,
            doc_due_date=self.doc_due_date,
            arrival_date=arrival,
            receiving_unit_id=self.receiving_unit_id,
            issuer_org_id=self.issuer_org_id,
            backdate_reason=" ".join((self.backdate_reason or "").split())[:500],
        )


@dataclass
class NewFile:
    """A checked upload (services.uploads.check_upload) plus its signature report, if any."""

    filename: str
    content_type: str
    data: bytes
    validation: dict[str, Any] | None = None
    signatures_ok: bool | None = None


@dataclass
class Handlers:
    """A direction's people: the lead (a person or a unit, whose head then leads), co-handlers, for information."""

    lead_user_id: int | None = None
    lead_unit_id: int | None = None
    co_user_ids: Sequence[int] = ()
    co_unit_ids: Sequence[int] = ()
    info_user_ids: Sequence[int] = ()


# --- reading and access ----------------------------------------------------------------------


async def _load(session: AsyncSession, document_id: int) -> IncomingDocument:
    doc = await session.scalar(
        select(IncomingDocument)
        .where(IncomingDocument.id == document_id)
        .options(selectinload(IncomingDocument.files), selectinload(IncomingDocument.assignments), selectinload(IncomingDocument.notes))
        .execution_options(populate_existing=True)
    )
    if doc is None:
        raise _not_found()
    return doc


def _my_unit(principal: Principal) -> int | None:
    return principal.user.unit_id


async def _headed_units(session: AsyncSession, user_id: int) -> set[int]:
    return set((await session.scalars(select(Unit.id).where(Unit.head_user_id == user_id))).all())


async def roles_on(session: AsyncSession, principal: Principal, doc: IncomingDocument) -> set[str]:
    """What the principal is on this document: clerk, leader, auditor, lead, unit_head, co, info."""
    return _roles(principal, doc, await _headed_units(session, principal.user.id))


def _roles(principal: Principal, doc: IncomingDocument, headed: set[int]) -> set[str]:
    roles: set[str] = set()
    org = doc.organization_id
    if org in principal.orgs_with(Role.clerk):
        roles.add("clerk")
    if org in principal.orgs_with(*LEADERS):
        roles.add("leader")
    if org in principal.orgs_with(Role.auditor):
        roles.add("auditor")
    me = principal.user.id
    if doc.lead_user_id == me:
        roles.add("lead")
    if doc.lead_unit_id is not None and doc.lead_unit_id in headed:
        roles.add("unit_head")
    for a in doc.assignments:
        if not a.active or a.role == "lead":
            continue
        if a.user_id == me or (a.user_id is None and a.unit_id is not None and a.unit_id == _my_unit(principal)):
            roles.add(a.role)
    return roles


async def get_for(session: AsyncSession, *, principal: Principal, document_id: int) -> tuple[IncomingDocument, set[str]]:
    """The document and the principal's roles on it; NotFound when they may not see it."""
    doc = await _load(session, document_id)
    roles = await roles_on(session, principal, doc)
    if not roles:
        raise _not_found()
    return doc, roles


def _handled_by(doc: IncomingDocument) -> set[int]:
    """The people who see the document by their part in it (lead, co-handler, for information),
    not by their roles in the organisation."""
    people = {a.user_id for a in doc.assignments if a.active and a.user_id is not None}
    return people | ({doc.lead_user_id} if doc.lead_user_id is not None else set())


async def _parts_taken_away(session: AsyncSession, doc: IncomingDocument, before: set[int]) -> None:
    """Those who had a part in the document and have none now may no longer see it: a page of it
    they have open stops following it (services/events/hub.py)."""
    await access_changed(session, *(before - _handled_by(doc)))


def _need_role(roles: set[str], wanted: Iterable[str], message: Message) -> None:
    if not roles & set(wanted):
        raise Forbidden(message)


def _need_status(doc: IncomingDocument, allowed: Iterable[Status | str], message: Message) -> None:
    allowed_values = {getattr(s, "value", s) for s in allowed}
    if doc.status not in allowed_values:
        raise Conflict(message)


async def _touch(session: AsyncSession, doc: IncomingDocument, *, status: Status | None = None, arrived: bool = False) -> None:
    """Every change of a document ends here: its revision, the live event and the webhooks
    (`arrived`: a new document, from another organisation or registered by the clerk)."""
    before = doc.status
    if status is not None:
        doc.status = status.value
    doc.revision = (doc.revision or 0) + 1
    doc.updated_at = utcnow()
    await tally.settle(session, doc)  # the statistics' roll-up, in this transaction
    await session.flush()
    await publish(
        session,
        channel=f"incoming-{doc.id}",
        kind="incoming.changed",
        payload={"id": doc.id, "status": doc.status, "revision": doc.revision},
    )
    hook: dict[str, Any] = {"organization_id": doc.organization_id, "kind": "incoming", "object_id": doc.id, "path": f"/incoming/{doc.id}"}
    if arrived:
        await webhooks.emit(session, event_type="incoming.arrived", **hook)
    if doc.status != before:
        await webhooks.emit(session, event_type="document.status_changed", data={"from": before, "to": doc.status}, **hook)


async def _audit(session: AsyncSession, actor: Actor, doc: IncomingDocument, action: str, **details: Any) -> None:
    # Lock order (services/db.py): the document's row first. A step that changes the document
    # only after writing its parts (an opinion, progress) would otherwise take the row late,
    # against a direction that holds the row and then writes those parts.
    await session.execute(select(IncomingDocument.id).where(IncomingDocument.id == doc.id).with_for_update(key_share=True))
    await _record(session, actor, doc, action, **details)


async def _record(session: AsyncSession, actor: Actor, doc: IncomingDocument, action: str, **details: Any) -> None:
    await record(
        session, actor=actor, action=action, object_type="incoming", object_id=doc.id, organization_id=doc.organization_id, details=details
    )


async def _note(session: AsyncSession, actor: Actor, doc: IncomingDocument, kind: str, body: str) -> IncomingNote:
    note = IncomingNote(document_id=doc.id, kind=kind, author_id=actor.user_id, author_name=actor.name, body=body)
    session.add(note)
    await session.flush()
    return note


async def _sender_status(session: AsyncSession, doc: IncomingDocument, code: str, note: str | None = None) -> None:
    """Report a step to the sender organisation once per code (idempotent), with a live event;
    a sender outside the system gets an edXML status package (services.exchange)."""
    if doc.sender_org_id is None and doc.outgoing_ref is not None:
        from services.exchange.service import queue_status

        await queue_status(session, doc, code, note)
        return
    if doc.sender_org_id is None or doc.outgoing_ref is None:
        return
    if await session.scalar(
        select(IncomingSenderStatus.id).where(IncomingSenderStatus.document_id == doc.id, IncomingSenderStatus.code == code)
    ):
        return
    session.add(
        IncomingSenderStatus(
            document_id=doc.id,
            outgoing_ref=doc.outgoing_ref,
            sender_org_id=doc.sender_org_id,
            recipient_org_id=doc.organization_id,
            code=code,
            note=note,
        )
    )
    await session.flush()
    await publish(
        session,
        channel=f"incomingsender-{doc.sender_org_id}",
        kind="incoming.sender_status",
        payload={
            "outgoing_ref": doc.outgoing_ref,
            "recipient_org_id": doc.organization_id,
            "code": code,
            "label_vi": SENDER_LABELS[code][0],
            "label_en": SENDER_LABELS[code][1],
        },
    )


def _text(value: str | None, message: Message, limit: int = 5000) -> str:
    value = (value or "").strip()
    if not value:
        raise InvalidInput(message)
    return value[:limit]


# --- registration -------------------------------------------------------------------------------


async def find_duplicates(
    session: AsyncSession,
    *,
    organization_id: int,
    number_notation: str,
    document_date: date | None,
    issuer_name: str | None = None,
    issuer_org_id: int | None = None,
    exclude_id: int | None = None,
) -> list[IncomingDocument]:
    """Documents of the organisation with the same issuer, number/notation and date."""
    notation = " ".join((number_notation or "").split())
    if not notation or document_date is None:
        return []
    query = select(IncomingDocument).where(
        IncomingDocument.organization_id == organization_id,
        func.upper(IncomingDocument.number_notation) == notation.upper(),
        IncomingDocument.document_date == document_date,
        IncomingDocument.status != Status.rejected.value,
    )
    if exclude_id is not None:
        query = query.where(IncomingDocument.id != exclude_id)
    # Issuer names compare case-insensitively in Python: SQLite's lower() ignores Vietnamese letters.
    wanted = " ".join((issuer_name or "").split()).casefold()
    return [
        d
        for d in (await session.scalars(query.order_by(IncomingDocument.id))).all()
        if (issuer_org_id is not None and d.issuer_org_id == issuer_org_id)
        or (wanted and " ".join(d.issuer_name.split()).casefold() == wanted)
        or (not wanted and issuer_org_id is None)
    ]


async def _check_unit(session: AsyncSession, unit_id: int | None, org_id: int) -> None:
    if unit_id is None:
        return
    unit = await session.get(Unit, unit_id)
    if unit is None or unit.organization_id != org_id:
        raise InvalidInput(_l("The receiving unit is not in this organisation."))


def _store_files(doc: IncomingDocument, files: Sequence[NewFile], blobs: BlobStore, start: int) -> list[IncomingFile]:
    rows = []
    for offset, upload in enumerate(files):
        digest = blobs.put(upload.data)
        row = IncomingFile(
            position=start + offset,
            is_main=(start + offset == 0),
            filename=upload.filename,
            content_type=upload.content_type,
            size=len(upload.data),
            sha256=digest,
            validation=json.dumps(upload.validation, ensure_ascii=False, default=str) if upload.validation else None,
            signatures_ok=upload.signatures_ok,
        )
        doc.files.append(row)
        rows.append(row)
    return rows


def series_of(secrecy: str) -> str:
    """The register series a document goes to: secret documents have their own numbering."""
    return "mat" if secrecy != "normal" else "chung"


async def _take_number(session: AsyncSession, doc: IncomingDocument) -> None:
    """The next number of this year's register: the year of registration in Vietnam time, never
    the typed arrival date's (a back-dated entry went to last year's closed register)."""
    if doc.arrival_number is not None:
        return
    year = calendar.vn_today().year
    doc.arrival_series = series_of(doc.secrecy)
    doc.arrival_year = year
    doc.arrival_number = await next_number(
        session, organization_id=doc.organization_id, kind="incoming", series=doc.arrival_series, year=year
    )


async def register_floor(session: AsyncSession, *, organization_id: int, series: str) -> date:
    """The earliest arrival date this year's register can take without a reason: its last
    entry's arrival date, or 1 January when it is still empty."""
    year = calendar.vn_today().year
    last = await session.scalar(
        select(IncomingDocument.arrival_date)
        .where(
            IncomingDocument.organization_id == organization_id,
            IncomingDocument.arrival_series == series,
            IncomingDocument.arrival_year == year,
            IncomingDocument.arrival_number.is_not(None),
        )
        .order_by(IncomingDocument.arrival_number.desc())
        .limit(1)
    )
    return max(last or date(year, 1, 1), date(year, 1, 1))


async def register(
    session: AsyncSession,
    *,
    principal: Principal,
    organization_id: int,
    meta: Metadata,
    files: Sequence[NewFile] = (),
    blobs: BlobStore,
    allow_duplicate: bool = False,
    document_id: int | None = None,
) -> IncomingDocument:
    """Register a document in the incoming register (clerks only).

    New documents need at least one file (the first is the main file). `document_id` registers
    a document that arrived from the system or was returned to the clerk, keeping its files.
    Duplicates raise Conflict unless `allow_duplicate`. A PDF whose signatures failed keeps the
    document unnumbered ("arrived") so the clerk can read the report and return it to its sender.
    Blobs are written only after every check passed: a refused registration stores nothing.
    """
    require(principal, [Role.clerk], organization_id, "organization")
    meta = meta.cleaned()
    await _check_unit(session, meta.receiving_unit_id, organization_id)
    if meta.issuer_org_id is not None and await session.get(Organization, meta.issuer_org_id) is None:
        raise InvalidInput(_l("Unknown issuing organisation."))
    doc: IncomingDocument | None = None
    if document_id is not None:
        doc = await _load(session, document_id)
        if doc.organization_id != organization_id:
            raise _not_found()
        _need_status(doc, (Status.arrived, Status.returned), _l("This document is no longer waiting for registration."))
    elif not files:
        raise InvalidInput(_l("Upload at least one file."))
    # Arrival numbers and dates run in the same order: a new number with an earlier date than the
    # register's last entry needs a reason, which the trail keeps. A document returned to the
    # clerk keeps the number (and date) it already has.
    backdated = False
    if doc is None or doc.arrival_number is None:
        floor = await register_floor(session, organization_id=organization_id, series=series_of(meta.secrecy))
        backdated = meta.arrival_date is not None and meta.arrival_date < floor
    if backdated and not meta.backdate_reason:
        raise InvalidInput(
            _l(
                "The arrival date {day:%d/%m/%Y} is before the register's last entry ({floor:%d/%m/%Y}). "
                "Give the reason for registering it with this date.",
                day=meta.arrival_date,
                floor=floor,
            ),
            backdate=True,
        )
    duplicates = await find_duplicates(
        session,
        organization_id=organization_id,
        number_notation=meta.number_notation,
        document_date=meta.document_date,
        issuer_name=meta.issuer_name,
        issuer_org_id=meta.issuer_org_id,
        exclude_id=document_id,
    )
    if duplicates and not allow_duplicate:
        first = duplicates[0]
        raise Conflict(
            _l(
                "{number_notation} of {document_date:%d/%m/%Y} from {issuer_name} is already registered.",
                number_notation=meta.number_notation,
                document_date=meta.document_date,
                issuer_name=meta.issuer_name,
                value=first.arrival_label or "—",
            ),
            duplicates=[d.id for d in duplicates],
        )
    actor = principal.actor
    new = doc is None
    if doc is None:
        doc = IncomingDocument(
            organization_id=organization_id, status=Status.arrived.value, source="manual", files=[], assignments=[], notes=[]
        )
        session.add(doc)
    for key in (
        "issuer_name",
        "number_notation",
        "document_date",
        "doc_type",
        "subject",
        "urgency",
        "secrecy",
        "doc_due_date",
        "arrival_date",
        "receiving_unit_id",
        "issuer_org_id",
    ):
        setattr(doc, key, getattr(meta, key))
    await session.flush()
    _store_files(doc, files, blobs, start=len(doc.files))
    held = any(f.signatures_ok is False for f in doc.files)
    was_returned = doc.status == Status.returned.value
    if held and not was_returned and doc.arrival_number is None and doc.status == Status.arrived.value and files:
        await session.flush()
        await _audit(
            session,
            actor,
            doc,
            "incoming.hold",
            reason="invalid_signature",
            files=[f.filename for f in doc.files if f.signatures_ok is False],
        )
        await _touch(session, doc, status=Status.arrived, arrived=new)
        return doc
    await _take_number(session, doc)
    doc.registered_by_id = principal.user.id
    doc.registered_at = utcnow()
    doc.return_reason = None
    await session.flush()
    await _audit(
        session,
        actor,
        doc,
        "incoming.register",
        arrival_number=doc.arrival_number,
        series=doc.arrival_series,
        year=doc.arrival_year,
        number_notation=doc.number_notation,
        issuer=doc.issuer_name,
        subject=doc.subject,
        files=[f.filename for f in doc.files],
        duplicate_of=[d.id for d in duplicates] if duplicates else None,
        resubmitted=was_returned or None,
        backdated=meta.backdate_reason if backdated else None,
    )
    if backdated:
        await _note(session, actor, doc, "backdate", meta.backdate_reason)
    await _sender_status(session, doc, "03")
    await _touch(session, doc, status=Status.awaiting_direction, arrived=new)
    return doc


async def accept_despite_signatures(session: AsyncSession, *, principal: Principal, document_id: int, reason: str) -> IncomingDocument:
    """The clerk registers a held document whose signatures failed, giving a reason."""
    doc = await _load(session, document_id)
    require(principal, [Role.clerk], doc.organization_id, "organization")
    _need_status(doc, (Status.arrived,), _l("Not waiting for registration."))
    reason = _text(reason, _l("Give the reason for accepting the document anyway."))
    await _take_number(session, doc)
    doc.registered_by_id = principal.user.id
    doc.registered_at = utcnow()
    await session.flush()
    await _note(session, principal.actor, doc, "accept", reason)
    await _audit(
        session,
        principal.actor,
        doc,
        "incoming.register",
        arrival_number=doc.arrival_number,
        series=doc.arrival_series,
        year=doc.arrival_year,
        despite_signatures=reason,
    )
    await _sender_status(session, doc, "03")
    await _touch(session, doc, status=Status.awaiting_direction)
    return doc


async def receive_from_system(
    session: AsyncSession,
    *,
    actor: Actor,
    recipient_org_id: int,
    sender_org_id: int | None,
    outgoing_ref: str,
    number_notation: str,
    document_date: date,
    doc_type: str,
    subject: str,
    urgency: str = "normal",
    secrecy: str = "normal",
    due_date: date | None = None,
    files: Sequence[tuple[str, str, str]] = (),
    signer_name: str | None = None,
    sender_name: str | None = None,
) -> IncomingDocument:
    """A document issued to `recipient_org_id` by another organisation in the system, or (with
    `sender_org_id` None and `sender_name`) by a body outside it whose edXML package arrived.

    Idempotent on (recipient_org_id, outgoing_ref): a second call returns the same document.
    The document waits in the recipient clerk's queue ("arrived"); the sender gets status 01.
    `files` are (filename, content_type, sha256) of blobs already in the blob store, main first.
    """
    existing = await session.scalar(
        select(IncomingDocument).where(IncomingDocument.organization_id == recipient_org_id, IncomingDocument.outgoing_ref == outgoing_ref)
    )
    if existing is not None:
        return existing
    sender = await session.get(Organization, sender_org_id) if sender_org_id is not None else None
    issuer = sender.name if sender is not None else (sender_name or "").strip()
    if not issuer or await session.get(Organization, recipient_org_id) is None:
        raise InvalidInput(_l("Unknown sender or recipient organisation."))
    if doc_type not in DOC_TYPES or urgency not in URGENCY or secrecy not in SECRECY:
        raise InvalidInput(_l("Invalid type, urgency or secrecy."))
    if not files:
        raise InvalidInput(_l("The document has no file."))
    doc = IncomingDocument(
        organization_id=recipient_org_id,
        status=Status.arrived.value,
        source="system" if sender is not None else "edxml",
        issuer_org_id=sender_org_id,
        issuer_name=issuer[:255],
        number_notation=number_notation.strip()[:64],
        document_date=document_date,
        doc_type=doc_type,
        subject=subject.strip(),
        urgency=urgency,
        secrecy=secrecy,
        doc_due_date=due_date,
        arrival_date=calendar.vn_today(),
        signer_name=signer_name,
        outgoing_ref=outgoing_ref,
        sender_org_id=sender_org_id,
        files=[],
        assignments=[],
        notes=[],
    )
    for position, (filename, content_type, sha256) in enumerate(files):
        doc.files.append(
            IncomingFile(
                position=position, is_main=position == 0, filename=filename[:255], content_type=content_type, size=0, sha256=sha256
            )
        )
    try:
        async with session.begin_nested():
            session.add(doc)
            await session.flush()
    except Exception:
        # A concurrent delivery of the same outgoing document won the unique constraint.
        again = await session.scalar(
            select(IncomingDocument).where(
                IncomingDocument.organization_id == recipient_org_id, IncomingDocument.outgoing_ref == outgoing_ref
            )
        )
        if again is None:
            raise
        return again
    # Not `_audit`: a row this transaction inserted is seen by nobody else, there is nothing to lock.
    await _record(
        session,
        actor,
        doc,
        "incoming.receive",
        sender_org_id=sender_org_id,
        outgoing_ref=outgoing_ref,
        number_notation=doc.number_notation,
        subject=doc.subject,
    )
    await _sender_status(session, doc, "01")
    await _touch(session, doc, arrived=True)
    # Its workflow checks the signatures and tells the clerk; started with the delivery.
    await outbox.tell(session, "incoming", doc.id)
    return doc


async def store_validation(session: AsyncSession, *, actor: Actor, file_id: int, report: dict[str, Any] | None, ok: bool | None) -> None:
    """Keep a file's signature report (once: a retried validation changes nothing)."""
    row = await session.get(IncomingFile, file_id)
    if row is None or row.validation is not None:
        return
    row.validation = json.dumps(report, ensure_ascii=False, default=str) if report is not None else "null"
    row.signatures_ok = ok
    doc = await _load(session, row.document_id)
    await _audit(session, actor, doc, "incoming.validate", file=row.filename, ok=ok, summary=(report or {}).get("summary_vi"))
    await _touch(session, doc)


async def files_to_validate(session: AsyncSession, *, document_id: int) -> list[IncomingFile]:
    return list(
        (
            await session.scalars(
                select(IncomingFile).where(
                    IncomingFile.document_id == document_id,
                    IncomingFile.content_type == "application/pdf",
                    IncomingFile.validation.is_(None),
                )
            )
        ).all()
    )


# --- returns --------------------------------------------------------------------------------------


async def return_to_sender(session: AsyncSession, *, principal: Principal, document_id: int, reason: str) -> IncomingDocument:
    """The clerk refuses a document (e.g. an invalid signature): status 02 goes to the sender."""
    doc = await _load(session, document_id)
    require(principal, [Role.clerk], doc.organization_id, "organization")
    _need_status(doc, (Status.arrived, Status.returned, Status.awaiting_direction), _l("The document is already being handled."))
    reason = _text(reason, _l("Give the reason for returning it."))
    doc.return_reason = reason
    doc.returned_by_id = principal.user.id
    await _note(session, principal.actor, doc, "reject", reason)
    await _audit(session, principal.actor, doc, "incoming.return_sender", reason=reason)
    await _sender_status(session, doc, "02", reason)
    await _touch(session, doc, status=Status.rejected)
    return doc


async def return_to_clerk(session: AsyncSession, *, principal: Principal, document_id: int, reason: str) -> IncomingDocument:
    """A leader (awaiting direction) or the lead handler sends the document back to the clerk."""
    doc, roles = await get_for(session, principal=principal, document_id=document_id)
    if doc.status == Status.awaiting_direction.value:
        _need_role(roles, {"leader"}, _l("Only leaders may return it."))
    else:
        _need_status(doc, OPEN_HANDLING, _l("The document cannot be returned now."))
        _need_role(roles, {"lead", "leader"}, _l("Only the lead handler or a leader may return it."))
    reason = _text(reason, _l("Give the reason for returning it."))
    doc.return_reason = reason
    doc.returned_by_id = principal.user.id
    before = _handled_by(doc)
    for a in doc.assignments:
        a.active = False
    doc.lead_user_id = doc.lead_unit_id = None
    await _parts_taken_away(session, doc, before)
    await _note(session, principal.actor, doc, "return", reason)
    await _audit(session, principal.actor, doc, "incoming.return_clerk", reason=reason)
    await _touch(session, doc, status=Status.returned)
    return doc


# --- direction --------------------------------------------------------------------------------------


async def _org_user(session: AsyncSession, user_id: int, org_id: int) -> User:
    user = await session.get(User, user_id)
    if user is None or user.organization_id != org_id or not user.active:
        raise InvalidInput(_l("That person is not in this organisation."))
    return user


async def _org_unit(session: AsyncSession, unit_id: int, org_id: int) -> Unit:
    unit = await session.get(Unit, unit_id)
    if unit is None or unit.organization_id != org_id:
        raise InvalidInput(_l("That unit is not in this organisation."))
    return unit


async def _apply_handlers(session: AsyncSession, doc: IncomingDocument, handlers: Handlers, actor: Actor) -> dict[str, Any]:
    org = doc.organization_id
    if handlers.lead_user_id is None and handlers.lead_unit_id is None:
        raise InvalidInput(_l("Choose the lead handler (a person or a unit)."))
    lead_unit = await _org_unit(session, handlers.lead_unit_id, org) if handlers.lead_unit_id else None
    if handlers.lead_user_id is not None:
        lead_user = await _org_user(session, handlers.lead_user_id, org)
    else:
        assert lead_unit is not None
        if lead_unit.head_user_id is None:
            raise InvalidInput(
                _l("{name} has no head: assign a person.", name=lead_unit.name),
            )
        lead_user = await _org_user(session, lead_unit.head_user_id, org)
    before = _handled_by(doc)
    for a in doc.assignments:
        a.active = False
    doc.lead_user_id = lead_user.id
    doc.lead_unit_id = lead_unit.id if lead_unit else None
    doc.assignments.append(IncomingAssignment(role="lead", user_id=lead_user.id, unit_id=doc.lead_unit_id, created_by_id=actor.user_id))
    seen = {("lead", lead_user.id)}
    admins_only = set((await session.scalars(select(User.id).where(_administers_only(org)))).all())
    if admins_only & {lead_user.id, *handlers.co_user_ids}:
        raise InvalidInput(_l("The administrator does not handle documents. Choose another person."))
    if actor.user_id in handlers.co_user_ids:
        raise InvalidInput(_l("You cannot name yourself as a co-handler."))
    for uid in handlers.co_user_ids:
        await _org_user(session, uid, org)
        if ("co", uid) not in seen and uid != lead_user.id:
            seen.add(("co", uid))
            doc.assignments.append(IncomingAssignment(role="co", user_id=uid, created_by_id=actor.user_id))
    for unit_id in handlers.co_unit_ids:
        unit = await _org_unit(session, unit_id, org)
        doc.assignments.append(IncomingAssignment(role="co", user_id=unit.head_user_id, unit_id=unit.id, created_by_id=actor.user_id))
    for uid in handlers.info_user_ids:
        await _org_user(session, uid, org)
        if ("info", uid) not in seen:
            seen.add(("info", uid))
            doc.assignments.append(IncomingAssignment(role="info", user_id=uid, created_by_id=actor.user_id))
    await session.flush()
    await _parts_taken_away(session, doc, before)
    return {
        "lead_user_id": lead_user.id,
        "lead_user": lead_user.full_name,
        "lead_unit_id": doc.lead_unit_id,
        "co_user_ids": list(handlers.co_user_ids),
        "co_unit_ids": list(handlers.co_unit_ids),
        "info_user_ids": list(handlers.info_user_ids),
    }


async def _due(session: AsyncSession, due_date: date | None, due_working_days: int | None) -> date | None:
    if due_working_days is not None:
        if due_working_days < 1 or due_working_days > 365:
            raise InvalidInput(_l("Working days must be between 1 and 365."))
        return await calendar.add_working_days_db(session, calendar.vn_today(), due_working_days)
    if due_date is not None and due_date < calendar.vn_today():
        raise InvalidInput(_l("The due date cannot be in the past."))
    return due_date


async def direct(
    session: AsyncSession,
    *,
    principal: Principal,
    document_id: int,
    instruction: str,
    handlers: Handlers,
    due_date: date | None = None,
    due_working_days: int | None = None,
) -> IncomingDocument:
    """Bút phê by a leader or deputy: instruction, lead, co-handlers, for information, due date.

    On a document already directed it is a reassignment (recorded as such)."""
    doc, roles = await get_for(session, principal=principal, document_id=document_id)
    _need_role(roles, {"leader"}, _l("Only leaders and deputies direct documents."))
    _need_status(doc, (Status.awaiting_direction, *OPEN_HANDLING), _l("The document is not awaiting direction."))
    reassign = doc.status in OPEN_HANDLING
    instruction = _text(instruction, _l("Write the instruction."))
    due = await _due(session, due_date, due_working_days)
    if due is None and doc.doc_due_date is not None:
        due = doc.doc_due_date
    details = await _apply_handlers(session, doc, handlers, principal.actor)
    doc.instruction = instruction
    doc.directed_by_id = principal.user.id
    doc.directed_at = utcnow()
    old_due, doc.due_date = doc.due_date, due
    await _note(session, principal.actor, doc, "direction", instruction)
    if reassign:
        await _audit(
            session,
            principal.actor,
            doc,
            "incoming.reassign",
            instruction=instruction,
            due_date=due.isoformat() if due else None,
            old_due=old_due.isoformat() if old_due else None,
            **details,
        )
        await _touch(session, doc)
    else:
        await _audit(
            session, principal.actor, doc, "incoming.direct", instruction=instruction, due_date=due.isoformat() if due else None, **details
        )
        await _sender_status(session, doc, "04")
        await _touch(session, doc, status=Status.directed)
    return doc


async def mark_no_direction(session: AsyncSession, *, principal: Principal, document_id: int, note: str = "") -> IncomingDocument:
    """A leader files the document: no handling needed."""
    doc, roles = await get_for(session, principal=principal, document_id=document_id)
    _need_role(roles, {"leader"}, _l("Only leaders may decide this."))
    _need_status(doc, (Status.awaiting_direction,), _l("Not awaiting direction."))
    note = (note or "").strip() or "Lưu, không cần xử lý."
    doc.directed_by_id = principal.user.id
    doc.directed_at = doc.completed_at = utcnow()
    doc.instruction = note
    await _note(session, principal.actor, doc, "direction", note)
    await _audit(session, principal.actor, doc, "incoming.no_direction", note=note)
    await _sender_status(session, doc, "06", note)
    await _touch(session, doc, status=Status.no_direction)
    return doc


async def delegate(session: AsyncSession, *, principal: Principal, document_id: int, user_id: int | None) -> IncomingDocument:
    """The head of the lead unit hands the lead to a person of the unit."""
    doc, roles = await get_for(session, principal=principal, document_id=document_id)
    _need_role(roles, {"unit_head"}, _l("Only the head of the assigned unit may delegate."))
    if user_id is None:
        raise InvalidInput(_l("Choose a person."))
    _need_status(doc, OPEN_HANDLING, _l("The document is not being handled."))
    user = await _org_user(session, user_id, doc.organization_id)
    if user.unit_id != doc.lead_unit_id:
        raise InvalidInput(_l("Delegate to someone of the unit."))
    before = _handled_by(doc)
    for a in doc.assignments:
        if a.role == "lead":
            a.active = False
    previous = doc.lead_user_id
    doc.lead_user_id = user.id
    doc.assignments.append(IncomingAssignment(role="lead", user_id=user.id, unit_id=doc.lead_unit_id, created_by_id=principal.user.id))
    await session.flush()
    await _parts_taken_away(session, doc, before)
    await _note(session, principal.actor, doc, "delegation", f"Giao {user.full_name} xử lý chính.")
    await _audit(session, principal.actor, doc, "incoming.delegate", from_user_id=previous, to_user_id=user.id, to_user=user.full_name)
    await _touch(session, doc)
    return doc


# --- handling ------------------------------------------------------------------------------------


async def record_progress(session: AsyncSession, *, principal: Principal, document_id: int, body: str) -> IncomingDocument:
    doc, roles = await get_for(session, principal=principal, document_id=document_id)
    _need_role(roles, {"lead"}, _l("Only the lead handler records progress."))
    _need_status(doc, OPEN_HANDLING, _l("The document is not being handled."))
    body = _text(body, _l("Write the progress."))
    await _note(session, principal.actor, doc, "progress", body)
    await _audit(session, principal.actor, doc, "incoming.progress", body=body)
    if doc.status == Status.directed.value:
        doc.started_at = utcnow()
        await _sender_status(session, doc, "05")
    await _touch(session, doc, status=Status.in_progress)
    return doc


async def add_opinion(session: AsyncSession, *, principal: Principal, document_id: int, body: str) -> IncomingDocument:
    doc, roles = await get_for(session, principal=principal, document_id=document_id)
    _need_role(roles, {"co", "lead", "leader"}, _l("Only co-handlers add opinions."))
    _need_status(doc, OPEN_HANDLING, _l("The document is not being handled."))
    body = _text(body, _l("Write the opinion."))
    await _note(session, principal.actor, doc, "opinion", body)
    await _audit(session, principal.actor, doc, "incoming.opinion", body=body)
    await _touch(session, doc)
    return doc


async def complete(session: AsyncSession, *, principal: Principal, document_id: int, result: str) -> IncomingDocument:
    """Only the lead handler closes the document, with its result."""
    doc, roles = await get_for(session, principal=principal, document_id=document_id)
    _need_role(roles, {"lead"}, _l("Only the lead handler may close the document."))
    _need_status(doc, OPEN_HANDLING, _l("The document is not being handled."))
    result = _text(result, _l("Write the result."))
    doc.result = result
    doc.completed_at = utcnow()
    if doc.started_at is None:
        doc.started_at = doc.completed_at
        await _sender_status(session, doc, "05")
    late = doc.due_date is not None and calendar.vn_today() > doc.due_date
    await _note(session, principal.actor, doc, "result", result)
    await _audit(session, principal.actor, doc, "incoming.complete", result=result, late=late)
    await _sender_status(session, doc, "06")
    await _touch(session, doc, status=Status.done)
    return doc


async def extend_due(session: AsyncSession, *, principal: Principal, document_id: int, new_due: date, reason: str) -> IncomingDocument:
    doc, roles = await get_for(session, principal=principal, document_id=document_id)
    _need_role(roles, {"leader"}, _l("Only leaders extend due dates."))
    _need_status(doc, OPEN_HANDLING, _l("The document is not being handled."))
    reason = _text(reason, _l("Give the reason for the extension."))
    if doc.due_date is not None and new_due <= doc.due_date:
        raise InvalidInput(_l("The new due date must be after the current one."))
    old = doc.due_date
    doc.due_date = new_due
    await _note(
        session,
        principal.actor,
        doc,
        "extension",
        f"Gia hạn đến {new_due:%d/%m/%Y}" + (f" (hạn cũ {old:%d/%m/%Y})" if old else "") + f": {reason}",
    )
    await _audit(
        session,
        principal.actor,
        doc,
        "incoming.extend_due",
        old_due=old.isoformat() if old else None,
        new_due=new_due.isoformat(),
        reason=reason,
    )
    await _touch(session, doc)
    return doc


REPLY_STATUSES = (*OPEN_HANDLING, Status.done.value)
_NOT_A_REPLY = (OutgoingStatus.cancelled, OutgoingStatus.replaced)


async def link_reply(session: AsyncSession, *, principal: Principal, document_id: int, outgoing_id: int | None) -> IncomingDocument:
    """The lead handler (or a leader) names the outgoing document that answers this one, during
    handling or after it is done; None removes the link. The reply must be this organisation's."""
    doc, roles = await get_for(session, principal=principal, document_id=document_id)
    _need_role(roles, {"lead", "leader"}, _l("Only the lead handler or a leader links the reply."))
    _need_status(doc, REPLY_STATUSES, _l("The document has not been assigned for handling."))
    if outgoing_id == doc.reply_outgoing_id:
        return doc
    old = doc.reply_outgoing_id
    if outgoing_id is None:
        await _note(session, principal.actor, doc, "reply", "Bỏ liên kết văn bản trả lời.")
        await _audit(session, principal.actor, doc, "incoming.reply_unlinked", outgoing_id=old)
    else:
        reply = await session.get(OutgoingDocument, outgoing_id)
        if reply is None or reply.organization_id != doc.organization_id:
            raise InvalidInput(_l("No such outgoing document of this organisation."))
        if reply.status in _NOT_A_REPLY:
            raise InvalidInput(_l("That outgoing document was cancelled or replaced."))
        label = reply.notation or f"dự thảo #{reply.id}"
        await _note(session, principal.actor, doc, "reply", f"Văn bản trả lời: {label} — {reply.subject}")
        await _audit(session, principal.actor, doc, "incoming.reply_linked", outgoing_id=reply.id, notation=reply.notation, previous=old)
    doc.reply_outgoing_id = outgoing_id
    await _touch(session, doc)
    return doc


async def reply_candidates(session: AsyncSession, *, organization_id: int, limit: int = 100) -> list[OutgoingDocument]:
    """The organisation's outgoing documents that can answer an incoming one, newest first."""
    return list(
        (
            await session.scalars(
                select(OutgoingDocument)
                .where(OutgoingDocument.organization_id == organization_id, OutgoingDocument.status.not_in(_NOT_A_REPLY))
                .order_by(OutgoingDocument.id.desc())
                .limit(limit)
            )
        ).all()
    )


async def answered_by(session: AsyncSession, *, outgoing_id: int) -> list[IncomingDocument]:
    """The incoming documents this outgoing document replies to."""
    return list(
        (
            await session.scalars(
                select(IncomingDocument)
                .where(IncomingDocument.reply_outgoing_id == outgoing_id)
                .options(selectinload(IncomingDocument.assignments))
                .order_by(IncomingDocument.id)
            )
        ).all()
    )


# --- what the workflow reads and does -------------------------------------------------------------


@dataclass
class Snapshot:
    document_id: int
    status: str
    revision: int
    due_date: date | None
    lead_user_id: int | None
    reminder_at: datetime | None = None
    overdue_at: datetime | None = None
    escalate_at: datetime | None = None
    pending: list[str] = field(default_factory=list)  # deadline notices not yet sent for this due date

    @property
    def closed(self) -> bool:
        return self.status in CLOSED


async def workflow_snapshot(
    session: AsyncSession, *, document_id: int, reminder_working_days: int, escalate_after_working_days: int
) -> Snapshot:
    """The state the workflow's pre-kernel branch acts on, with the instants of the deadline
    notices still due (read from the deadline kernel's notice table)."""
    from services.deadlines.ladder import working_day_ladder
    from services.deadlines.service import rungs_for

    doc = await _load(session, document_id)
    snap = Snapshot(document_id=doc.id, status=doc.status, revision=doc.revision or 0, due_date=doc.due_date, lead_user_id=doc.lead_user_id)
    if doc.status in OPEN_HANDLING and doc.due_date is not None:
        ladder = working_day_ladder(reminder_before=reminder_working_days, escalate_after=escalate_after_working_days)
        placed, ahead = await rungs_for(session, kind="incoming", object_id=doc.id, ladder=ladder, due=doc.due_date)
        instants = dict(placed)
        snap.reminder_at, snap.overdue_at, snap.escalate_at = instants["reminder"], instants["overdue"], instants["escalation"]
        snap.pending = [r.step for r in ahead]
    return snap


async def _users_with(session: AsyncSession, org_id: int, roles: Iterable[Role]) -> list[int]:
    return list(
        (
            await session.scalars(
                select(RoleAssignment.user_id)
                .where(RoleAssignment.organization_id == org_id, RoleAssignment.role.in_(list(roles)))
                .distinct()
            )
        ).all()
    )


def _title_prefix(doc: IncomingDocument) -> str:
    return f"[{URGENCY_VI[doc.urgency]}] " if doc.urgency != "normal" else ""


async def send_deadline_notice(session: AsyncSession, *, document_id: int, kind: str, due_date: date) -> bool:
    """Reminder before the due date, overdue notice to the handler, escalation to the leader
    (services/incoming/deadlines.py says what each one says).

    Idempotent by (document, kind, due date): returns False when already sent or no longer relevant."""
    from services.deadlines import service as deadlines
    from services.deadlines.ladder import due_instant
    from services.incoming.deadlines import IncomingDeadlines

    return await deadlines.send(session, adapter=IncomingDeadlines(), object_id=document_id, step=kind, due_at=due_instant(due_date))


async def notify_step(session: AsyncSession, *, document_id: int, revision: int) -> list[int]:
    """Tell the next actor(s) that the document waits for them, once per step: a registration or
    return per revision, an assignment per direction (a progress note bumps the revision but is
    no new assignment), the end once."""
    doc = await _load(session, document_id)
    if (doc.revision or 0) != revision:
        return []
    link = f"/incoming/{doc.id}"
    label = f"{_title_prefix(doc)}{doc.number_notation} — {doc.subject[:140]}"
    status = doc.status
    if status in OPEN_HANDLING:
        key = f"incoming-{doc.id}-directed-{doc.directed_at.isoformat() if doc.directed_at else 0}"
    elif status in (Status.done.value, Status.rejected.value):
        key = f"incoming-{doc.id}-{status}"
    else:
        key = f"incoming-{doc.id}-r{revision}"
    sent: list[int] = []

    async def send(users: Iterable[int], kind: str, title: Message, body: Message | str = "") -> None:
        users = [u for u in users if u]
        if users:
            notes = await notify(session, user_ids=users, kind=kind, title=title, body=body, link=link, dedupe_key=f"{key}-{kind}")
            sent.extend(n.user_id for n in notes)

    if status in (Status.arrived.value, Status.returned.value):
        title = (
            _l("Incoming document returned: {label}", label=label)
            if status == Status.returned.value
            else _l("Incoming document to register: {label}", label=label)
        )
        await send(await _users_with(session, doc.organization_id, [Role.clerk]), "incoming.to_register", title, doc.return_reason or "")
    elif status == Status.awaiting_direction.value:
        await send(
            await _users_with(session, doc.organization_id, LEADERS),
            "incoming.to_direct",
            _l("Awaiting direction (arrival no. {arrival}): {label}", arrival=doc.arrival_label, label=label),
        )
    elif status in OPEN_HANDLING:
        due = _l(" — due {due:%d/%m/%Y}", due=doc.due_date) if doc.due_date else ""
        active = [a for a in doc.assignments if a.active]
        await send(
            [doc.lead_user_id] if doc.lead_user_id else [],
            "incoming.assigned_lead",
            _l("You lead the handling{due}: {label}", due=due, label=label),
            doc.instruction or "",
        )
        await send(
            [a.user_id for a in active if a.role == "co" and a.user_id],
            "incoming.assigned_co",
            _l("You co-handle{due}: {label}", due=due, label=label),
            doc.instruction or "",
        )
        await send(
            [a.user_id for a in active if a.role == "info" and a.user_id],
            "incoming.for_info",
            _l("For your information: {label}", label=label),
            doc.instruction or "",
        )
    elif status == Status.done.value and doc.directed_by_id:
        await send([doc.directed_by_id], "incoming.done", _l("Handling completed: {label}", label=label), doc.result or "")
    elif status == Status.rejected.value and doc.sender_org_id:
        await send(
            await _users_with(session, doc.sender_org_id, [Role.clerk]),
            "incoming.rejected",
            _l("Your document was returned: {label}", label=label),
            doc.return_reason or "",
        )
    return sent


# --- sender statuses (read by the outgoing pages) ---------------------------------------------------


@dataclass(frozen=True)
class SenderStatus:
    recipient_org_id: int
    recipient_name: str
    document_id: int
    code: str
    label_vi: str
    label_en: str
    at: datetime
    note: str | None


async def sender_status_history(session: AsyncSession, *, outgoing_ref: str, recipient_org_id: int | None = None) -> list[SenderStatus]:
    """Every status reported for an outgoing document, oldest first."""
    query = (
        select(IncomingSenderStatus, Organization.name)
        .join(Organization, Organization.id == IncomingSenderStatus.recipient_org_id)
        .where(IncomingSenderStatus.outgoing_ref == outgoing_ref)
        .order_by(IncomingSenderStatus.at, IncomingSenderStatus.id)
    )
    if recipient_org_id is not None:
        query = query.where(IncomingSenderStatus.recipient_org_id == recipient_org_id)
    return [
        SenderStatus(
            recipient_org_id=s.recipient_org_id,
            recipient_name=name,
            document_id=s.document_id,
            code=s.code,
            label_vi=SENDER_LABELS[s.code][0],
            label_en=SENDER_LABELS[s.code][1],
            at=s.at,
            note=s.note,
        )
        for s, name in (await session.execute(query)).all()
    ]


async def sender_withdrew(
    session: AsyncSession, *, actor: Actor, recipient_org_id: int, outgoing_ref: str, kind: str, reason: str
) -> IncomingDocument | None:
    """The sender recalled, replaced or updated a document it issued to us: say so on our copy
    (once per kind)."""
    if kind not in ("recall", "replace", "update"):
        raise ValueError(f"unknown withdrawal kind {kind!r}")
    doc = await session.scalar(
        select(IncomingDocument).where(IncomingDocument.organization_id == recipient_org_id, IncomingDocument.outgoing_ref == outgoing_ref)
    )
    if doc is None:
        return None
    already = await session.scalar(select(IncomingNote.id).where(IncomingNote.document_id == doc.id, IncomingNote.kind == kind))
    if already is not None:
        return doc
    verb = {"recall": "thu hồi", "replace": "thay thế", "update": "cập nhật"}[kind]
    await _note(session, actor, doc, kind, f"Cơ quan ban hành đã {verb} văn bản này. Lý do: {reason or '—'}")
    await _audit(session, actor, doc, f"incoming.sender_{kind}", reason=reason)
    return doc


async def recall_waiting(session: AsyncSession, doc: IncomingDocument) -> IncomingNote | None:
    """A partner outside the system asked (edXML, business "recall") to take this document back and
    nobody here answered yet: the sender's note, else None. In-system recalls need no answer."""
    from services.exchange.service import EDXML_REF

    if doc.sender_org_id is not None or not (doc.outgoing_ref or "").startswith(EDXML_REF):
        return None
    notes = (await session.scalars(select(IncomingNote).where(IncomingNote.document_id == doc.id).order_by(IncomingNote.id))).all()
    asked = [n for n in notes if n.kind == "recall"]
    answered = any(n.kind in ("recall_accepted", "recall_refused") for n in notes)
    return asked[-1] if asked and not answered else None


async def answer_recall(session: AsyncSession, *, principal: Principal, document_id: int, decision: str, reason: str) -> IncomingDocument:
    """The clerk answers the sender's recall request ("accept" or "refuse"): 15 (agreed) or 16
    (refused, with the reason) goes back as a status package."""
    doc = await _load(session, document_id)
    require(principal, [Role.clerk], doc.organization_id, "organization")
    if decision not in ("accept", "refuse"):
        raise InvalidInput(_l("Choose whether to agree to the recall or refuse it."))
    accept = decision == "accept"
    if await recall_waiting(session, doc) is None:
        raise Conflict(_l("No recall request waits for an answer on this document."))
    reason = " ".join(reason.split())
    if not accept:
        reason = _text(reason, _l("Give the reason for refusing the recall."))
    code, kind = ("15", "recall_accepted") if accept else ("16", "recall_refused")
    body = "Đồng ý cho cơ quan ban hành thu hồi văn bản." if accept else f"Từ chối thu hồi. Lý do: {reason}"
    await _note(session, principal.actor, doc, kind, body + (f" {reason}" if accept and reason else ""))
    await _audit(session, principal.actor, doc, "incoming.recall_answer", code=code, reason=reason or None)
    await _sender_status(session, doc, code, reason or None)
    await _touch(session, doc)
    return doc


async def sender_statuses(session: AsyncSession, *, outgoing_ref: str) -> list[SenderStatus]:
    """The latest status per recipient organisation of an outgoing document."""
    latest: dict[int, SenderStatus] = {}
    for status in await sender_status_history(session, outgoing_ref=outgoing_ref):
        latest[status.recipient_org_id] = status  # ordered oldest first: the last one wins
    return sorted(latest.values(), key=lambda s: s.recipient_name)


# --- lists, search, register, statistics -------------------------------------------------------------


def display_status(doc: IncomingDocument, today: date, holidays: set[date], soon_days: int) -> str:
    """The label users see: adds due_soon / overdue to open handling statuses."""
    if doc.status in OPEN_HANDLING and doc.due_date is not None:
        if today > doc.due_date:
            return "overdue"
        if calendar.working_days_between(today, doc.due_date, holidays) <= soon_days:
            return "due_soon"
    return doc.status


def _queue_where(principal: Principal, queue: str, headed: set[int]) -> Any:
    """Which documents a queue holds; its list and its count (badges, home page) both read this."""
    if queue == "to_register":
        return and_(
            IncomingDocument.organization_id.in_(principal.orgs_with(Role.clerk)),
            IncomingDocument.status.in_([Status.arrived.value, Status.returned.value]),
        )
    if queue == "to_direct":
        return and_(
            IncomingDocument.organization_id.in_(principal.orgs_with(*LEADERS)), IncomingDocument.status == Status.awaiting_direction.value
        )
    assert queue == "my_tasks", queue
    return and_(IncomingDocument.status.in_(OPEN_HANDLING), _involved(principal, headed))


QUEUE_PAGE = 50  # a page of a work queue; the next page follows the last row's sort key (keyset)
_URGENCY_RANK = case({"flash": 0, "very_urgent": 1, "urgent": 2, "normal": 3}, value=IncomingDocument.urgency, else_=9)


async def _queue_page(
    session: AsyncSession, query: Select[Any], keys: list[Any], *, scope: Any, after: int | None, limit: int, newest_first: bool = False
) -> list[IncomingDocument]:
    """`limit` rows of `query` in the order of `keys` (the last one the id), after the document
    `after` when given: its keys are read again (within `scope`, what the queue may show), so a
    page follows on even when that document has left the queue meanwhile."""
    if after is not None:
        anchor = (await session.execute(select(*keys).where(IncomingDocument.id == after, scope))).first()
        if anchor is not None:
            first = keys[0] <= anchor[0] if newest_first else keys[0] >= anchor[0]  # lets an index on the first key help
            query = query.where(first, tuple_(*keys) < tuple_(*anchor) if newest_first else tuple_(*keys) > tuple_(*anchor))
    order = [key.desc() for key in keys] if newest_first else keys
    return list((await session.scalars(query.order_by(*order).limit(limit))).all())


async def clerk_queue(
    session: AsyncSession, *, principal: Principal, after: int | None = None, limit: int = QUEUE_PAGE
) -> list[IncomingDocument]:
    """Documents to register, newest first."""
    if not principal.orgs_with(Role.clerk):
        return []
    query = select(IncomingDocument).where(_queue_where(principal, "to_register", set()))
    scope = IncomingDocument.organization_id.in_(principal.orgs_with(Role.clerk))
    return await _queue_page(session, query, [IncomingDocument.id], scope=scope, after=after, limit=limit, newest_first=True)


async def leader_queue(
    session: AsyncSession, *, principal: Principal, after: int | None = None, limit: int = QUEUE_PAGE
) -> list[IncomingDocument]:
    """Documents awaiting direction: the most urgent first, then by the reply date the letter asks for."""
    if not principal.orgs_with(*LEADERS):
        return []
    keys = [_URGENCY_RANK, func.coalesce(IncomingDocument.doc_due_date, date.max), IncomingDocument.id]
    query = select(IncomingDocument).where(_queue_where(principal, "to_direct", set()))
    scope = IncomingDocument.organization_id.in_(principal.orgs_with(*LEADERS))
    return await _queue_page(session, query, keys, scope=scope, after=after, limit=limit)


def _involved(principal: Principal, unit_ids: set[int]) -> Any:
    me = principal.user.id
    unit = principal.user.unit_id
    assignment = exists().where(
        IncomingAssignment.document_id == IncomingDocument.id,
        IncomingAssignment.active.is_(True),
        or_(
            IncomingAssignment.user_id == me,
            and_(IncomingAssignment.user_id.is_(None), IncomingAssignment.unit_id == unit) if unit else false(),
        ),
    )
    clauses = [IncomingDocument.lead_user_id == me, assignment]
    if unit_ids:
        clauses.append(IncomingDocument.lead_unit_id.in_(unit_ids))
    return or_(*clauses)


async def my_tasks(
    session: AsyncSession, *, principal: Principal, after: int | None = None, limit: int = QUEUE_PAGE
) -> list[tuple[IncomingDocument, str]]:
    """Open documents I lead, co-handle or receive for information, with my part in each; due
    date order (overdue first, those without a due date last)."""
    headed = await _headed_units(session, principal.user.id)
    query = select(IncomingDocument).where(_queue_where(principal, "my_tasks", headed)).options(selectinload(IncomingDocument.assignments))
    keys = [func.coalesce(IncomingDocument.due_date, date.max), IncomingDocument.id]
    docs = await _queue_page(session, query, keys, scope=_involved(principal, headed), after=after, limit=limit)
    parts = ("lead", "unit_head", "co", "info")
    return [(doc, next((r for r in parts if r in _roles(principal, doc, headed)), "info")) for doc in docs]


async def done_list(
    session: AsyncSession, *, principal: Principal, after: int | None = None, limit: int = QUEUE_PAGE
) -> list[IncomingDocument]:
    """Completed documents the principal may see, newest completion first, a page at a time.

    One query per way of seeing a document (the organisations seen whole, the documents one
    leads, those of the units one heads, those one is assigned), each walking its own index in
    completion order; the top `limit` of their union. A single OR of them reads every completed
    document of the organisation (1.8 s at a million)."""
    closed = IncomingDocument.status.in_([Status.done.value, Status.no_direction.value])
    keys = [IncomingDocument.completed_at, IncomingDocument.id]
    me, unit = principal.user.id, principal.user.unit_id
    headed = await _headed_units(session, me)
    assigned = select(IncomingAssignment.document_id).where(
        IncomingAssignment.active.is_(True),
        or_(IncomingAssignment.user_id == me, and_(IncomingAssignment.user_id.is_(None), IncomingAssignment.unit_id == unit))
        if unit
        else IncomingAssignment.user_id == me,
    )
    ways = [IncomingDocument.lead_user_id == me, IncomingDocument.id.in_(assigned)]
    if org_wide := principal.orgs_with(*ORG_WIDE_VIEW):
        ways.append(IncomingDocument.organization_id.in_(org_wide))
    if headed:
        ways.append(IncomingDocument.lead_unit_id.in_(headed))
    found: dict[int, IncomingDocument] = {}
    for way in ways:
        query = select(IncomingDocument).where(closed, way)
        for doc in await _queue_page(session, query, keys, scope=or_(*ways), after=after, limit=limit, newest_first=True):
            found[doc.id] = doc
    epoch = datetime.min.replace(tzinfo=UTC)
    return sorted(found.values(), key=lambda d: (d.completed_at or epoch, d.id), reverse=True)[:limit]


QUEUES = ("to_register", "to_direct", "my_tasks")


async def queue_count_queries(session: AsyncSession, *, principal: Principal) -> dict[str, Select[int]]:
    """The count of each queue the principal has (the same conditions as the lists)."""
    headed = await _headed_units(session, principal.user.id)
    return {
        queue: select(func.count()).select_from(IncomingDocument).where(_queue_where(principal, queue, headed))
        for queue in QUEUES
        if not (
            queue == "to_register" and not principal.orgs_with(Role.clerk) or queue == "to_direct" and not principal.orgs_with(*LEADERS)
        )
    }


async def queue_counts(session: AsyncSession, *, principal: Principal) -> dict[str, int]:
    """How many documents each queue lists (0 for a queue the principal does not have)."""
    counts = dict.fromkeys(QUEUES, 0)
    for queue, query in (await queue_count_queries(session, principal=principal)).items():
        counts[queue] = await session.scalar(query) or 0
    return counts


@dataclass
class SearchFilters:
    status: str | None = None  # a Status value, or "overdue" / "due_soon"
    date_from: date | None = None
    date_to: date | None = None
    issuer: str | None = None
    doc_type: str | None = None
    urgency: str | None = None
    due: str | None = None  # overdue | due_soon | has_due | none
    text: str | None = None
    org_id: int | None = None


async def search(
    session: AsyncSession,
    *,
    principal: Principal,
    filters: SearchFilters,
    before_id: int | None = None,
    before_rank: int = 0,
    limit: int = 30,
    soon_days: int = 2,
) -> list[IncomingDocument]:
    """Within what the principal may see; with words (`filters.text`) ranked as
    `textsearch.ranked` says, otherwise newest first; keyset-paginated by (rank,) id."""
    org_wide = principal.orgs_with(*ORG_WIDE_VIEW)
    headed = await _headed_units(session, principal.user.id)
    scope = or_(IncomingDocument.organization_id.in_(org_wide), _involved(principal, headed)) if org_wide else _involved(principal, headed)
    query = select(IncomingDocument).where(scope)
    today = calendar.vn_today()
    if filters.org_id:
        query = query.where(IncomingDocument.organization_id == filters.org_id)
    status = filters.status
    due = filters.due or (status if status in ("overdue", "due_soon") else None)
    if status and status not in ("overdue", "due_soon"):
        query = query.where(IncomingDocument.status == status)
    if due in ("overdue", "due_soon"):
        query = query.where(IncomingDocument.status.in_(OPEN_HANDLING))
        if due == "overdue":
            query = query.where(IncomingDocument.due_date < today)
        else:
            limit_day = await calendar.add_working_days_db(session, today, soon_days)
            query = query.where(IncomingDocument.due_date >= today, IncomingDocument.due_date <= limit_day)
    elif due == "has_due":
        query = query.where(IncomingDocument.due_date.is_not(None))
    elif due == "none":
        query = query.where(IncomingDocument.due_date.is_(None))
    if filters.date_from:
        query = query.where(IncomingDocument.arrival_date >= filters.date_from)
    if filters.date_to:
        query = query.where(IncomingDocument.arrival_date <= filters.date_to)
    if filters.issuer:
        query = query.where(textsearch.contains(IncomingDocument.issuer_name, filters.issuer))
    if filters.doc_type:
        query = query.where(IncomingDocument.doc_type == filters.doc_type)
    if filters.urgency:
        query = query.where(IncomingDocument.urgency == filters.urgency)
    if words := textsearch.Query.parse(filters.text):
        after = textsearch.Cursor(before_rank, before_id) if before_id else None
        return [doc for doc, _ in await textsearch.ranked(session, query, IncomingDocument, words, after=after, limit=limit)]
    if before_id:
        query = query.where(IncomingDocument.id < before_id)
    newest: Any = IncomingDocument.id
    if filters.date_from or filters.date_to:
        # A period far back: walking the primary key from the newest document would read every
        # later one first (0.5 s at a million); `id + 0` makes the planner take the period's rows
        # from the arrival-date index and sort those few.
        newest = IncomingDocument.id + 0
    return list((await session.scalars(query.order_by(newest.desc()).limit(limit))).all())


async def register_rows(
    session: AsyncSession,
    *,
    principal: Principal,
    organization_id: int,
    year: int,
    series: str = "chung",
    after: int = 0,
    limit: int | None = None,
) -> list[dict[str, object]]:
    """Rows of the printed incoming register (Decree 30 columns), in arrival-number order.

    A page of the book: the `limit` rows numbered after `after` (keyset, on the register's unique
    index: a deep page costs what the first does); the print takes the whole book."""
    require(principal, [Role.clerk, *LEADERS, Role.auditor], organization_id, "organization")
    query = (
        select(IncomingDocument)
        .where(
            IncomingDocument.organization_id == organization_id,
            IncomingDocument.arrival_year == year,
            IncomingDocument.arrival_series == series,
            IncomingDocument.arrival_number > after,
        )
        .order_by(IncomingDocument.arrival_number)
    )
    docs = (await session.scalars(query if limit is None else query.limit(limit))).all()
    users = {u.id: u for u in (await session.scalars(select(User).where(User.organization_id == organization_id))).all()}
    units = {u.id: u for u in (await session.scalars(select(Unit).where(Unit.organization_id == organization_id))).all()}
    rows: list[dict[str, object]] = []
    for d in docs:
        receiver = (
            units[d.lead_unit_id].name
            if d.lead_unit_id in units
            else (
                users[d.lead_user_id].full_name
                if d.lead_user_id in users
                else (units[d.receiving_unit_id].name if d.receiving_unit_id in units else "")
            )
        )
        notes = {"rejected": "Trả lại nơi gửi", "no_direction": "Lưu, không cần xử lý"}.get(d.status, "")
        rows.append(
            {
                "number": d.arrival_number,
                "arrival_date": d.arrival_date,
                "arrival_number": d.arrival_label,
                "issuer": d.issuer_name,
                "notation": d.number_notation,
                "document_date": d.document_date,
                "type_and_subject": f"{d.doc_type} — {d.subject}",
                "receiver": receiver,
                "passed_on_date": d.directed_at.astimezone(calendar.VN_TZ).date() if d.directed_at else None,
                "received_by": users[d.lead_user_id].full_name if d.lead_user_id in users else "",
                "notes": notes,
            }
        )
    return rows


async def register_size(session: AsyncSession, *, organization_id: int, year: int, series: str = "chung") -> int:
    """How many documents a register holds (the book's last number, since numbers have no gaps)."""
    return (
        await session.scalar(
            select(func.max(IncomingDocument.arrival_number)).where(
                IncomingDocument.organization_id == organization_id,
                IncomingDocument.arrival_year == year,
                IncomingDocument.arrival_series == series,
            )
        )
        or 0
    )


@dataclass
class UnitStats(handling.Tally):
    unit_id: int | None = None
    unit_name: str = ""


async def unit_statistics(session: AsyncSession, *, principal: Principal, organization_id: int, year: int) -> list[UnitStats]:
    """Per lead unit (or the lead person's unit): on time, late, overdue, open (`handling`'s definition)."""
    require(principal, [Role.clerk, *LEADERS, Role.auditor], organization_id, "organization")
    units = {u.id: u.name for u in (await session.scalars(select(Unit).where(Unit.organization_id == organization_id))).all()}
    stats: dict[int | None, UnitStats] = {}
    for row in await handling.handled(session, org_ids=[organization_id], start=date(year, 1, 1), end=date(year, 12, 31)):
        unit = stats.setdefault(
            row.unit_id,
            UnitStats(unit_id=row.unit_id, unit_name=units.get(row.unit_id, "Chưa rõ đơn vị") if row.unit_id else "Chưa rõ đơn vị"),
        )
        unit.merge(row)
    return sorted(stats.values(), key=lambda s: s.unit_name)


async def trail(session: AsyncSession, *, document_id: int) -> list[AuditEntry]:
    return list(
        (
            await session.scalars(
                select(AuditEntry)
                .where(AuditEntry.object_type == "incoming", AuditEntry.object_id == str(document_id))
                .order_by(AuditEntry.seq)
            )
        ).all()
    )


async def record_file_view(session: AsyncSession, *, principal: Principal, doc: IncomingDocument, file: IncomingFile) -> None:
    await _audit(session, principal.actor, doc, "incoming.file_view", file=file.filename, sha256=file.sha256)


def _administers_only(organization_id: int) -> Any:
    """Holds the administrator role in the organisation and no other: manages accounts, handles no documents."""
    roles = select(RoleAssignment.user_id).where(RoleAssignment.organization_id == organization_id)
    return and_(User.id.in_(roles.where(RoleAssignment.role == Role.admin)), User.id.not_in(roles.where(RoleAssignment.role != Role.admin)))


async def people_of(session: AsyncSession, *, organization_id: int, exclude_user_id: int | None = None) -> list[User]:
    """Who may be given a document of the organisation to handle: its active people, not its administrators."""
    query = select(User).where(User.organization_id == organization_id, User.active.is_(True), ~_administers_only(organization_id))
    if exclude_user_id is not None:
        query = query.where(User.id != exclude_user_id)
    return list((await session.scalars(query.options(selectinload(User.unit)).order_by(User.full_name))).all())
