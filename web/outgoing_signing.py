"""Signing and issuing an outgoing document, shared by its page (web/routes/outgoing.py) and the
public API (web/api_v1/outgoing.py).

Each is two steps, so a page can answer a refused PIN with its form again: `open_*_key` opens
the key with the PIN (a wrong PIN raises the counted DomainError), then `finish_*` does the rest.
Signing, validation and the seal wait on OCSP and the time stamp: no transaction stays open
meanwhile. The PIN is never stored and never sent to a workflow.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from services.authz import Principal
from services.blobs import BlobStore
from services.config import Settings
from services.directory.models import Organization, Role
from services.errors import Conflict, Forbidden, InvalidInput
from services.i18n import _l
from services.outbox.service import tell
from services.outgoing import service as outgoing
from services.outgoing.models import OutgoingDocument, Status
from services.uploads import PDF, CheckedUpload


async def ready_to_sign(session: AsyncSession, principal: Principal, document_id: int, *, for_update: bool = False) -> OutgoingDocument:
    """Refuses unless the document waits for this principal's signature; `for_update` before
    recording it: read afresh and locked, so the answer holds until the commit."""
    doc = await outgoing.get_for(session, principal=principal, document_id=document_id, for_update=for_update)
    if doc.signer_id != principal.user.id:
        raise Forbidden(_l("You are not this document's signer."))
    if doc.status != Status.awaiting_signature:
        raise Conflict(_l("This document is not waiting for a signature."))
    if not doc.prepared_pdf_sha:
        raise InvalidInput(_l("The PDF to sign is not ready yet."))
    return doc


async def open_leader_key(session: AsyncSession, settings: Settings, principal: Principal, doc: OutgoingDocument, pin: str) -> Any:
    from signing import service as signing

    if not pin:
        raise InvalidInput(_l("Enter your signing PIN."))
    return await signing.open_signer(
        session, settings=settings, actor=principal.actor, pin=pin, user=principal.user, target=signing.SigningTarget("outgoing", doc.id)
    )


async def finish_signing(
    session: AsyncSession, settings: Settings, principal: Principal, doc: OutgoingDocument, *, key: Any, upload: CheckedUpload | None
) -> None:
    """Sign the prepared PDF with the opened key, or take the PDF the leader signed with an
    external token (`upload`); check the signature is theirs; record it; tell the workflow."""
    from signing import service as signing
    from signing.outgoing import sign_as_leader, signing_profile
    from signing.validation import assert_signed_by

    user = principal.user
    prepared_sha = doc.prepared_pdf_sha
    assert prepared_sha is not None  # ready_to_sign refuses a document without its PDF
    prepared = BlobStore.for_settings(settings).get(prepared_sha)
    profile = await signing_profile(session, settings=settings, organization_id=doc.organization_id, user_id=user.id)
    # Only certificates registered and confirmed for this leader count (never a namesake's).
    accepted = await signing.expected_fingerprints(session, settings=settings, user=user)
    await session.commit()
    if upload is not None:
        if not upload.data.startswith(prepared):
            raise InvalidInput(_l("The upload is not this document's PDF with a signature added."))
        signed, method = upload.data, "upload"
    else:
        signed = await sign_as_leader(
            settings=settings, profile=profile, actor=principal.actor, user=user, signer=key, pdf=prepared, document_id=doc.id
        )
        method = "pin"
    report = await signing.validate(settings=settings, pdf=signed)
    assert_signed_by(report, accepted, expected=user.full_name)
    doc = await ready_to_sign(session, principal, doc.id, for_update=True)  # still waiting for this signature?
    if doc.prepared_pdf_sha != prepared_sha:
        raise Conflict(_l("The document changed while it was signed."))
    await outgoing.record_signature(
        session, settings=settings, actor=principal.actor, doc=doc, pdf=signed, method=method, report_json=report.model_dump_json()
    )
    await tell(session, "outgoing", doc.id, "changed", "signed")


def seal_needed(principal: Principal, doc: OutgoingDocument) -> bool:
    """Whether issuing needs the seal's PIN now: not when the document is issued already or not
    signed yet (`outgoing.issue` then answers without the seal). Refuses anyone who may not
    issue first, so the seal's PIN is never tried (and counted) for them."""
    outgoing.authorize(principal, doc, [Role.clerk], _l("Only a clerk of the issuing organisation can issue it."))
    return doc.status == Status.signed


async def open_seal_key(session: AsyncSession, settings: Settings, principal: Principal, doc: OutgoingDocument, pin: str) -> Any:
    from signing.service import SigningTarget, open_signer

    if not pin:
        raise InvalidInput(_l("Enter the organisation's seal PIN."))
    org = await session.get(Organization, doc.organization_id)
    assert org is not None  # a document's organisation is a foreign key
    return await open_signer(session, settings=settings, actor=principal.actor, pin=pin, org=org, target=SigningTarget("outgoing", doc.id))


async def finish_issue(session: AsyncSession, settings: Settings, principal: Principal, doc: OutgoingDocument, *, key: Any) -> None:
    """Number, date and seal in one step (the seal's network calls run outside any transaction);
    a number taken stays with the document if sealing fails, and the next attempt uses it."""
    from signing.outgoing import issue_seal, signing_profile

    org = await session.get(Organization, doc.organization_id)
    assert org is not None  # a document's organisation is a foreign key
    blobs = BlobStore.for_settings(settings)
    pdf_attachments = {a.id: blobs.get(a.sha) for a in await outgoing.attachments(session, document_id=doc.id) if a.content_type == PDF}
    profile = await signing_profile(session, settings=settings, organization_id=org.id)

    async def seal(stamp: outgoing.IssueStamp) -> outgoing.IssuedFiles:
        assert key is not None and doc.leader_pdf_sha is not None  # outgoing.issue seals a signed document only
        return await issue_seal(
            settings=settings,
            profile=profile,
            actor=principal.actor,
            org=org,
            signer=key,
            leader_pdf=blobs.get(doc.leader_pdf_sha),
            stamp=stamp,
            pdf_attachments=pdf_attachments,
        )

    await outgoing.issue(session, settings=settings, principal=principal, actor=principal.actor, document_id=doc.id, seal=seal)
    await tell(session, "outgoing", doc.id, "changed", "issued")
