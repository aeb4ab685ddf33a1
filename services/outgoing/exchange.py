"""Inter-level exchange outside the system: an issued document as an edXML package, and an
edXML package imported as an incoming document of the organisation it is addressed to."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import Actor, record
from services.authz import Principal
from services.blobs import BlobStore
from services.calendar import VN_TZ
from services.config import Settings
from services.db import utcnow
from services.directory.models import Organization, Role, User
from services.errors import Conflict, InvalidInput, NotFound
from services.exchange.service import incoming_ref, partner, queue_status
from services.i18n import _l
from services.incoming.models import IncomingDocument
from services.outgoing import drafting, edxml
from services.outgoing.models import OutgoingDocument, OutgoingRecipient, Status
from services.outgoing.service import attachments, recipients


def address_of(org: Organization) -> str:
    """How a package names the organisation: its national electronic identifier (Decision
    20/2020/QĐ-TTg), or the internal code where the administrator has not entered one."""
    return org.national_id or org.code


def addressee_among(package: edxml.Package, orgs: list[Organization]) -> Organization | None:
    """The first of `orgs` the package is addressed to: by identifier (national or internal
    code) or, for a recipient written without one, by its exact name."""
    for recipient in package.recipients:
        for org in orgs:
            if recipient.organ_id and recipient.organ_id in (org.national_id, org.code):
                return org
            if not recipient.organ_id and edxml.folded_name(recipient.name) == edxml.folded_name(org.name):
                return org
    return None


async def organisation_at(session: AsyncSession, organ_id: str) -> Organization | None:
    """Our organisation a package names by `organ_id` (its national identifier or internal code)."""
    return await session.scalar(select(Organization).where(or_(Organization.national_id == organ_id, Organization.code == organ_id)))


def _addressed_to(package: edxml.Package) -> str:
    return "; ".join(r.name or r.organ_id for r in package.recipients) or "—"


async def _arrive(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor,
    target: Organization,
    sender: Organization | None,
    package: edxml.Package,
    data: bytes,
) -> IncomingDocument:
    """The package as an incoming document waiting in `target`'s queue, its files and the
    package itself (kept as received) stored; once per DocumentId."""
    from services.incoming import service as incoming

    blobs = BlobStore.for_settings(settings)
    files = [(a.name, a.content_type, blobs.put(a.data)) for a in package.attachments]
    files.append((RECEIVED_NAME, "application/xml", blobs.put(data)))
    return await incoming.receive_from_system(
        session,
        actor=actor,
        recipient_org_id=target.id,
        sender_org_id=sender.id if sender is not None else None,
        sender_name=package.sender.name,
        outgoing_ref=incoming_ref(package.document_id),
        number_notation=package.number_notation,
        document_date=package.promulgation_date,
        doc_type=_doc_type(package),
        subject=package.subject,
        urgency=_known(package.urgency, incoming.URGENCY),
        secrecy=_known(package.secrecy, incoming.SECRECY),
        due_date=package.due_date,
        files=files,
        signer_name=package.signer_name,
    )


def _known(level: str, allowed: Sequence[str]) -> str:
    """An urgency or secrecy we know, else "normal" (another system's code we cannot map)."""
    return level if level in allowed else "normal"


def _doc_type(package: edxml.Package) -> str:
    from services.incoming import service as incoming

    return package.doc_type if package.doc_type in incoming.DOC_TYPES else "CV"


RECEIVED_NAME = "goi-edxml-nhan-duoc.xml"


async def package_for(session: AsyncSession, *, settings: Settings, doc: OutgoingDocument) -> edxml.Package:
    """The edXML package of an issued document (business type: new, recall, or replace when
    it replaces an earlier document)."""
    if doc.number is None or not doc.issued_pdf_sha or doc.issue_date is None or not doc.notation:
        raise Conflict(_l("The document is not issued yet."))
    org = await session.get(Organization, doc.organization_id)
    signer = await session.get(User, doc.signer_id)
    assert org is not None and signer is not None
    blobs = BlobStore.for_settings(settings)
    rows = await recipients(session, document_id=doc.id)
    codes: dict[int | None, str] = {
        o.id: address_of(o)
        for o in (
            await session.scalars(
                select(Organization).where(Organization.id.in_([r.organization_id for r in rows if r.organization_id] or [0]))
            )
        ).all()
    }
    files = [
        edxml.Attachment(
            content_id="cid:1",
            name=f"{doc.notation.replace('/', '_')}.pdf",
            content_type="application/pdf",
            data=blobs.get(doc.issued_pdf_sha),
            description="Văn bản chính",
        )
    ]
    for index, item in enumerate(await attachments(session, document_id=doc.id), start=2):
        files.append(
            edxml.Attachment(
                content_id=f"cid:{index}",
                name=item.filename,
                content_type=item.content_type,
                data=blobs.get(item.sealed_sha or item.sha),
                description="Phụ lục",
            )
        )
    business, reason, response_for = "new", "", ""
    if doc.status == Status.recalled:
        business, reason = "recall", doc.closing_reason or ""
    elif doc.replaces_id:
        old = await session.get(OutgoingDocument, doc.replaces_id)
        if old is not None and old.notation and old.issue_date:
            business, reason = "replace", old.closing_reason or ""
            response_for = f"{address_of(org)},{old.issue_date:%Y/%m/%d},{old.notation}"
    competence = " ".join(p for p in (doc.authority_prefix, doc.authority_line) if p).upper()
    issued_at = (doc.issued_at or datetime.now(VN_TZ)).astimezone(VN_TZ).replace(microsecond=0)
    return edxml.Package(
        sender=edxml.Organ(organ_id=address_of(org), name=org.name, email=org.email or "", in_charge=org.parent_body or ""),
        # External recipients that are exchange partners are addressed by identifier; the
        # others are places named in ToPlaces.
        recipients=[edxml.Organ(organ_id=codes.get(r.organization_id, ""), name=r.name) for r in rows if not r.external]
        + [edxml.Organ(organ_id=p.organ_id, name=r.name) for r in rows if r.external and (p := partner(settings, name=r.name))],
        code_number=doc.number,
        code_notation=doc.notation.split("/", 1)[1],
        place=org.place or "",
        promulgation_date=doc.issue_date,
        doc_type=doc.doc_type,
        type_name=drafting.type_name(doc.doc_type),
        subject=doc.subject,
        signer_competence=competence,
        signer_position=signer.position or "",
        signer_name=signer.full_name,
        due_date=doc.due_date,
        to_places=[r.name for r in rows if r.external and partner(settings, name=r.name) is None],
        urgency=doc.urgency.value,
        secrecy=doc.secrecy.value,
        business_type=edxml.BUSINESS[business],
        business_reason=reason,
        response_for=response_for,
        traces=[edxml.Trace(organ_id=address_of(org), timestamp=edxml.trace_time(issued_at))],
        attachments=files,
    )


async def export_package(session: AsyncSession, *, settings: Settings, actor: Actor, doc: OutgoingDocument) -> tuple[str, bytes]:
    """(file name, XML bytes) of the document's package; the download is recorded."""
    package = await package_for(session, settings=settings, doc=doc)
    data = edxml.build(package)
    await record(
        session,
        actor=actor,
        action="outgoing.edxml_export",
        object_type="outgoing",
        object_id=doc.id,
        organization_id=doc.organization_id,
        details={"document_id": package.document_id, "bytes": len(data)},
    )
    return f"{doc.notation.replace('/', '_') if doc.notation else doc.id}.edxml.xml", data


async def import_package(
    session: AsyncSession,
    *,
    settings: Settings,
    principal: Principal,
    data: bytes,
    organization_id: int | None = None,
) -> tuple[IncomingDocument, edxml.Package]:
    """Parse a package safely and register it as an incoming document of the addressed
    organisation (one the clerk works for). Idempotent per package: importing it twice gives
    the same incoming document."""
    from services.incoming import service as incoming

    package = edxml.parse(data)
    clerk_orgs = principal.orgs_with(Role.clerk)
    if not clerk_orgs:
        raise NotFound(_l("only clerks import packages"))
    if organization_id is not None:
        clerk_orgs = clerk_orgs & {organization_id}
    mine = list((await session.scalars(select(Organization).where(Organization.id.in_(clerk_orgs)).order_by(Organization.id))).all())
    target = addressee_among(package, mine)
    if target is None:
        raise InvalidInput(
            _l("The package is addressed to {value}, not to an organisation you are a clerk of.", value=_addressed_to(package)),
        )
    ref = incoming_ref(package.document_id)
    existing = await session.scalar(
        select(IncomingDocument).where(IncomingDocument.organization_id == target.id, IncomingDocument.outgoing_ref == ref)
    )
    if existing is not None:  # the same document imported again (or re-sent): one entry
        return existing, package
    sender = await organisation_at(session, package.sender.organ_id)
    copy: IncomingDocument
    if sender is not None:
        copy = await _arrive(session, settings=settings, actor=principal.actor, target=target, sender=sender, package=package, data=data)
    else:
        # An outside sender: the clerk's import registers it straight away (with its arrival number).
        meta = incoming.Metadata(
            issuer_name=package.sender.name,
            number_notation=package.number_notation,
            document_date=package.promulgation_date,
            doc_type=_doc_type(package),
            subject=package.subject,
            urgency=_known(package.urgency, incoming.URGENCY),
            secrecy=_known(package.secrecy, incoming.SECRECY),
            doc_due_date=package.due_date,
        )
        new_files = [incoming.NewFile(filename=a.name, content_type=a.content_type, data=a.data) for a in package.attachments]
        # The package itself is kept as received, beside the files it carried.
        new_files.append(incoming.NewFile(filename=RECEIVED_NAME, content_type="application/xml", data=data))
        copy = await incoming.register(
            session,
            principal=principal,
            organization_id=target.id,
            meta=meta,
            files=new_files,
            blobs=BlobStore.for_settings(settings),
            allow_duplicate=False,
        )
        copy.outgoing_ref = ref  # what a second import of the same DocumentId finds
        for code in ("01", "03"):  # arrived and registered, at once: the sender hears both
            await queue_status(session, copy, code)
    await record(
        session,
        actor=principal.actor,
        action="outgoing.edxml_import",
        object_type="incoming",
        object_id=copy.id,
        organization_id=target.id,
        details={
            "document_id": package.document_id,
            "sender": package.sender.organ_id,
            "business_type": package.business_type,
            "files": [a.sha256 for a in package.attachments],
        },
    )
    return copy, package


async def receive_package(session: AsyncSession, *, settings: Settings, data: bytes, package: edxml.Package) -> IncomingDocument:
    """A package from our exchange inbox: it arrives in the queue of the organisation it names
    (its clerk registers it, which reports 03 back); once per DocumentId."""
    orgs = list((await session.scalars(select(Organization).where(Organization.active.is_(True)).order_by(Organization.id))).all())
    target = addressee_among(package, orgs)
    if target is None:
        raise InvalidInput(
            _l("The package is addressed to {value}, not to an organisation of this system.", value=_addressed_to(package)),
        )
    sender = await organisation_at(session, package.sender.organ_id)
    replaces = package.business_type == edxml.BUSINESS["replace"] and bool(package.response_for)
    if replaces:
        # Lock order (services/db.py): the copy it replaces before the audit head, which the new
        # copy's arrival takes; a change of that copy holds its row when it takes the head.
        await session.execute(
            select(IncomingDocument.id)
            .where(IncomingDocument.organization_id == target.id, IncomingDocument.outgoing_ref == incoming_ref(package.response_for))
            .with_for_update(key_share=True)
        )
    copy = await _arrive(
        session, settings=settings, actor=Actor.system("exchange"), target=target, sender=sender, package=package, data=data
    )
    if replaces:
        from services.incoming import service as incoming

        # The copy it replaces (if it came here) says so; the new one is a document of its own.
        await incoming.sender_withdrew(
            session,
            actor=Actor.system("exchange"),
            recipient_org_id=target.id,
            outgoing_ref=incoming_ref(package.response_for),
            kind="replace",
            reason=package.business_reason,
        )
    return copy


async def sender_changed(session: AsyncSession, *, document_id: str, kind: str, reason: str) -> list[IncomingDocument]:
    """A partner recalls ("recall") or updates ("update") the document `document_id` (its
    DocumentId) it sent us — as a package of that business type, or a recall as status 13: the
    request and its reason are noted on every copy of it here; a recall waits for the clerk's
    answer. One about a document that never arrived is refused."""
    from services.incoming import service as incoming

    ref = incoming_ref(document_id)
    # Lock order (services/db.py): every copy's row before the audit head, which the first copy's
    # note takes (one by one, each later copy would be locked after it).
    orgs = (
        await session.scalars(
            select(IncomingDocument.organization_id)
            .where(IncomingDocument.outgoing_ref == ref)
            .order_by(IncomingDocument.id)
            .with_for_update(key_share=True)
        )
    ).all()
    copies = [
        doc
        for org_id in orgs
        if (
            doc := await incoming.sender_withdrew(
                session, actor=Actor.system("exchange"), recipient_org_id=org_id, outgoing_ref=ref, kind=kind, reason=reason
            )
        )
        is not None
    ]
    if not copies:
        raise InvalidInput(_l("The package names a document that never arrived here: {value}.", value=document_id))
    return copies


async def _answered(session: AsyncSession, status: edxml.Status) -> OutgoingDocument:
    """The document of ours a status answers: its DocumentId names us, the date and the number."""
    organ_id, _, rest = status.response_for.partition(",")
    day, _, notation = rest.partition(",")
    org = await organisation_at(session, organ_id)
    try:
        issued_on = datetime.strptime(day, "%Y/%m/%d").date()
    except ValueError:
        issued_on = None
    doc = None
    if org is not None and issued_on is not None:
        doc = await session.scalar(
            select(OutgoingDocument).where(
                OutgoingDocument.organization_id == org.id, OutgoingDocument.notation == notation, OutgoingDocument.issue_date == issued_on
            )
        )
    if doc is None:
        raise InvalidInput(_l("The status answers a document that is not ours: {value}.", value=status.response_for))
    return doc


async def apply_status(
    session: AsyncSession, *, settings: Settings, status: edxml.Status, actor: Actor | None = None
) -> OutgoingRecipient | None:
    """A partner's status on a document we sent: its row among the recipients shows the code.

    The row is the external recipient with the partner's name (as configured, or as the status
    names it). A code older than the one shown (a late 03 after 05) changes nothing; a refusal
    (02) always shows. `actor` is the clerk who imported the status, else the exchange."""
    doc = await _answered(session, status)
    # Lock order (services/db.py): the document's row before its recipient's. A recall or a
    # delivery holds the document when it changes a recipient row; taking that row first and
    # then the document would deadlock with it.
    await session.execute(select(OutgoingDocument.id).where(OutgoingDocument.id == doc.id).with_for_update(key_share=True))
    known = partner(settings, organ_id=status.sender.organ_id)
    names = {edxml.folded_name(n) for n in (status.sender.name, known.name if known else "") if n}
    row = next((r for r in await recipients(session, document_id=doc.id) if r.external and edxml.folded_name(r.name) in names), None)
    if row is None:
        return None
    current = row.status_code or ""
    if status.code == "02" or not current or current == "02" or status.code > current:
        row.status_code, row.status_at = status.code, utcnow()
        await record(
            session,
            actor=actor or Actor.system("exchange"),
            action="outgoing.edxml_status",
            object_type="outgoing",
            object_id=doc.id,
            organization_id=doc.organization_id,
            details={"recipient": row.name, "code": status.code, "description": status.description, "timestamp": status.timestamp},
        )
    return row


async def import_status(
    session: AsyncSession, *, settings: Settings, principal: Principal, data: bytes
) -> tuple[OutgoingDocument, OutgoingRecipient, edxml.Status]:
    """A status file a partner sent outside the exchange (by e-mail, on a USB stick), imported
    by a clerk of the organisation that issued the document: its recipient row shows the code,
    as if the exchange had brought it."""
    status = edxml.parse_status(data)
    if status.code == "13":
        raise InvalidInput(_l("A recall request (status 13) is answered on the incoming document, not imported here."))
    doc = await _answered(session, status)
    if doc.organization_id not in principal.orgs_with(Role.clerk):
        raise NotFound(_l("document not found"))
    row = await apply_status(session, settings=settings, status=status, actor=principal.actor)
    if row is None:
        sender = status.sender.name or status.sender.organ_id
        raise InvalidInput(_l("The status comes from {value}, which is not an outside recipient of this document.", value=sender))
    return doc, row, status
