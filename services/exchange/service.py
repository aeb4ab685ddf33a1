"""Sending packages and statuses to partners, and taking in what they send.

Out: a change that must reach a partner writes an `ExchangeMessage` and an outbox command
(kind "exchange") in its own transaction; the relay calls `deliver`, which builds the package,
writes it into the partner's drop folder (atomically: a temporary name, then a rename) and marks
the message delivered; a failure is retried by the relay with backoff. A partner without a
configured drop folder gets its packages in `<data dir>/exchange/outbox/<its identifier>/`.

In: `receive` takes one file of our inbox: a document package arrives in the addressed
organisation's queue (its clerk registers it, which reports 03 back), a recall package puts the
sender's request on the document it names (its clerk answers 15 or 16), a status package
updates the recipient's row of the outgoing document it answers.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import Actor, record
from services.calendar import VN_TZ
from services.config import ExchangePartner, Settings
from services.db import Database, utcnow
from services.exchange.models import ExchangeMessage
from services.incoming.models import IncomingDocument
from services.outbox.service import tell
from services.outgoing.edxml import folded_name

EDXML_REF = "edxml:"


def incoming_ref(document_id: str) -> str:
    """The `outgoing_ref` of an incoming document that came as a package: one per DocumentId."""
    return f"{EDXML_REF}{document_id}"[:128]


def partner(settings: Settings, *, organ_id: str = "", name: str = "") -> ExchangePartner | None:
    folded = folded_name(name)
    for item in settings.exchange_partners:
        if (organ_id and item.organ_id == organ_id) or (folded and folded_name(item.name) == folded):
            return item
    return None


async def _queue(session: AsyncSession, *, kind: str, document_id: int, partner_id: str, code: str = "", note: str | None = None) -> None:
    exists = await session.scalar(
        select(ExchangeMessage.id).where(
            ExchangeMessage.kind == kind,
            ExchangeMessage.document_id == document_id,
            ExchangeMessage.partner == partner_id,
            ExchangeMessage.code == code,
        )
    )
    if exists is not None:
        return
    message = ExchangeMessage(kind=kind, document_id=document_id, partner=partner_id, code=code, note=note)
    session.add(message)
    await session.flush()
    await tell(session, "exchange", message.id, None)


async def queue_status(session: AsyncSession, doc: IncomingDocument, code: str, note: str | None = None) -> None:
    """Report a step of a document that came by edXML from outside to its sender, once per code."""
    ref = doc.outgoing_ref or ""
    if doc.sender_org_id is not None or not ref.startswith(EDXML_REF):
        return
    sender_id = ref[len(EDXML_REF) :].split(",", 1)[0]
    if sender_id:
        await _queue(session, kind="status", document_id=doc.id, partner_id=sender_id, code=code, note=note)


async def queue_documents(session: AsyncSession, *, settings: Settings, document_id: int, external_names: list[str]) -> int:
    """On issue: the package goes to every external recipient that is a configured partner."""
    queued = 0
    for name in external_names:
        found = partner(settings, name=name)
        if found is not None:
            await _queue(session, kind="document", document_id=document_id, partner_id=found.organ_id)
            queued += 1
    return queued


async def queue_recall(session: AsyncSession, *, settings: Settings, document_id: int) -> int:
    """On recall: every partner that was sent the document gets the recall package (business
    "recall" with the reason); its recipient row shows 13 until it answers 15 or 16."""
    from services.outgoing.service import recipients

    sent = (
        await session.scalars(
            select(ExchangeMessage.partner).where(ExchangeMessage.kind == "document", ExchangeMessage.document_id == document_id)
        )
    ).all()
    partners = set(sent)
    for partner_id in sorted(partners):
        await _queue(session, kind="recall", document_id=document_id, partner_id=partner_id, code="13")
    for row in await recipients(session, document_id=document_id):
        found = partner(settings, name=row.name) if row.external else None
        if found is not None and found.organ_id in partners:
            row.status_code, row.status_at = "13", utcnow()
    return len(partners)


def _write(folder: Path, name: str, data: bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / name
    temporary = folder / f".{name}.part"
    temporary.write_bytes(data)
    os.replace(temporary, target)  # the partner never reads half a file
    return target


async def _package(session: AsyncSession, settings: Settings, message: ExchangeMessage) -> tuple[str, bytes, int | None]:
    """(file name, bytes, organisation) of the message's package."""
    from services.directory.models import Organization
    from services.outgoing import edxml, exchange
    from services.outgoing.service import get as get_outgoing

    if message.kind in ("document", "recall"):  # a recalled document's package says "recall"
        doc = await get_outgoing(session, document_id=message.document_id)
        package = await exchange.package_for(session, settings=settings, doc=doc)
        prefix = "vanban" if message.kind == "document" else "thuhoi"
        return f"{prefix}-{message.id}.edxml", edxml.build(package), doc.organization_id
    incoming = await session.get(IncomingDocument, message.document_id)
    assert incoming is not None and incoming.outgoing_ref
    org = await session.get(Organization, incoming.organization_id)
    assert org is not None
    status = edxml.Status(
        sender=edxml.Organ(exchange.address_of(org), org.name, org.email or "", org.parent_body or ""),
        response_for=incoming.outgoing_ref[len(EDXML_REF) :],
        code=message.code,
        description=message.note or edxml.STATUS_CODES[message.code][0],
        timestamp=edxml.trace_time(datetime.now(VN_TZ)),
    )
    return f"trangthai-{message.id}.edxml", edxml.build_status(status), org.id


async def deliver(database: Database, settings: Settings, message_id: int) -> None:
    """Write one message into its partner's drop folder (idempotent: the same file again)."""
    async with database.read() as session:
        message = await session.get(ExchangeMessage, message_id)
        if message is None or message.delivered_at is not None:
            return
        name, data, organization_id = await _package(session, settings, message)
        partner_id = message.partner  # read here: the message is detached once the session ends
    found = partner(settings, organ_id=partner_id)
    folder = found.drop if found is not None else settings.data_dir / "exchange" / "outbox" / partner_id
    target = _write(folder, name, data)
    async with database.session() as session:
        row = await session.get(ExchangeMessage, message_id)
        if row is None or row.delivered_at is not None:
            return
        row.delivered_at, row.destination = utcnow(), str(target)
        await record(
            session,
            actor=Actor.system("exchange"),
            action="exchange.sent",
            object_type="incoming" if row.kind == "status" else "outgoing",
            object_id=row.document_id,
            organization_id=organization_id,
            details={"partner": row.partner, "kind": row.kind, "code": row.code, "file": target.name},
        )


async def receive(database: Database, settings: Settings, data: bytes) -> str:
    """Take one package of the inbox: "status", "recall", "update" or "document" (InvalidInput
    when unusable)."""
    from services.outgoing import edxml, exchange

    if edxml.is_status(data):
        status = edxml.parse_status(data)
        async with database.session() as session:
            if status.code == "13":  # some systems ask for a recall as a status on their own document
                await exchange.sender_changed(session, document_id=status.response_for, kind="recall", reason=status.description)
                return "recall"
            await exchange.apply_status(session, settings=settings, status=status)
        return "status"
    package = edxml.parse(data)
    async with database.session() as session:
        for kind in ("recall", "update"):  # about a document sent before, under the same DocumentId
            if package.business_type == edxml.BUSINESS[kind]:
                await exchange.sender_changed(session, document_id=package.document_id, kind=kind, reason=package.business_reason)
                return kind
        await exchange.receive_package(session, settings=settings, data=data, package=package)
    return "document"
