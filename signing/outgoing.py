"""The signing steps of an outgoing document, shared by the web routes (where the PIN is
typed), the render activity and the demo seeder.

1. `prepare_pdf`: the final PDF gets read-only `number` and `date` fields where the template's
   markers are, the leader's empty signature field and the seal's over its left third; the
   marker text leaves the text layer;
2. `sign_as_leader`: (key opened by PIN in `signing.service.open_signer`) the leader's certification signature (FILL_FORMS) in the signing block;
3. `issue_seal`: number and date filled as form filling, then the organisation's seal
   (and the text seal on PDF attachments).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass

from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.signers.pdf_cms import Signer
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import Actor
from services.config import Settings
from services.directory.models import Organization, User
from services.outgoing.service import IssuedFiles, IssueStamp
from signing import service as signing
from signing.appearance import Appearance
from signing.forms import SignatureFieldSpec, add_text_fields, field_specs_from_markers, fill_text_fields
from signing.marker_text import remove_marker_text
from signing.placement import find_markers, require_marker, seal_box, signature_box

log = logging.getLogger(__name__)
LEADER_FIELD = "Sig-leader"
SEAL_FIELD = "Sig-seal"


def prepare_pdf(pdf: bytes) -> bytes:
    """Add the number/date fields, reserve the leader's and the seal's signature fields (the
    seal after the leader's, so it is drawn over it) and remove the markers' text; before
    anyone signs."""
    markers = find_markers(pdf)
    leader = require_marker(markers=markers, key="sig:leader")
    require_marker(markers=markers, key="field:number")
    require_marker(markers=markers, key="field:date")
    box = signature_box(marker=leader)
    reserved = [SignatureFieldSpec(LEADER_FIELD, leader.page, box), SignatureFieldSpec(SEAL_FIELD, leader.page, seal_box(signature=box))]
    return add_text_fields(remove_marker_text(pdf), field_specs_from_markers(markers=markers), signature_fields=reserved)


@dataclass(frozen=True)
class SigningProfile:
    """What a signature needs from the database (the signature or seal image, the PAdES level),
    read before the signing's network calls (OCSP, time stamp) so no transaction waits on them."""

    image: bytes | None
    level: signing.Level


async def signing_profile(session: AsyncSession, *, settings: Settings, organization_id: int, user_id: int | None = None) -> SigningProfile:
    """A person's signature image (with `user_id`) or the organisation's seal image, and its level."""
    if user_id is not None:
        image = await signing.profile_image(session, settings=settings, user_id=user_id)
    else:
        image = await signing.profile_image(session, settings=settings, organization_id=organization_id)
    level = await signing.org_level(session, settings=settings, organization_id=organization_id)
    return SigningProfile(image=image, level=level)


async def sign_as_leader(
    *,
    settings: Settings,
    profile: SigningProfile,
    actor: Actor,
    user: User,
    signer: Signer,
    pdf: bytes,
    document_id: int,
) -> bytes:
    """The leader's visible certification signature allowing only form filling afterwards
    (`signer`: the leader's key, opened with her PIN by `signing.service.open_signer`)."""
    return await signing.sign_as_person(
        settings=settings,
        signer=signer,
        actor=actor,
        user=user,
        pdf=pdf,
        level=profile.level,
        appearance=Appearance.signature(name=user.full_name, marker="leader", image_png=profile.image),
        field_name=LEADER_FIELD,
        reason="Ký ban hành văn bản",
        location=None,
        certify=MDPPerm.FILL_FORMS,
        target=signing.SigningTarget("outgoing", document_id),
    )


async def issue_seal(
    *,
    settings: Settings,
    profile: SigningProfile,
    actor: Actor,
    org: Organization,
    signer: Signer,
    leader_pdf: bytes,
    stamp: IssueStamp,
    pdf_attachments: dict[int, bytes],
) -> IssuedFiles:
    """Fill number and date into the leader-signed PDF, then apply the seal (`signer`, opened
    with the clerk's seal PIN by `signing.service.open_signer`); seal attachments.
    Uses no database session: it runs between the two transactions of `outgoing.issue`."""
    image, level = profile.image, profile.level
    filled = await asyncio.to_thread(fill_text_fields, leader_pdf, {"number": stamp.notation, "date": stamp.date_line})
    target = signing.SigningTarget("outgoing", stamp.document_id)
    sealed = await signing.sign_as_org(
        settings=settings,
        signer=signer,
        actor=actor,
        org=org,
        pdf=filled,
        level=level,
        appearance=Appearance.seal(org_name=org.name, over_marker="leader", image_png=image),
        field_name=SEAL_FIELD,
        reason=f"Phát hành văn bản số {stamp.notation}",
        target=target,
    )
    attachments = {}
    for attachment_id, data in pdf_attachments.items():
        attachments[attachment_id] = await signing.sign_as_org(
            settings=settings,
            signer=signer,
            actor=actor,
            org=org,
            pdf=data,
            level=level,
            appearance=Appearance.attachment(notation=stamp.notation),
            field_name="Sig-seal-attachment",
            reason=f"Phụ lục văn bản số {stamp.notation}",
            target=target,
        )
    return IssuedFiles(pdf=sealed, attachments=attachments)
