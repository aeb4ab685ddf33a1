"""The signing steps of an outgoing document, shared by the web routes (where the PIN is
typed), the render activity and the demo seeder.

1. `prepare_pdf`: the final PDF gets read-only `number` and `date` fields where the template's
   markers are, and the seal's empty signature field over the left third of the leader's;
2. `sign_as_leader`: the leader's certification signature (FILL_FORMS) in the signing block;
3. `issue_seal`: number and date filled as form filling, then the organisation's seal
   (and the text seal on PDF attachments).
"""

from __future__ import annotations

import asyncio
import logging
from dataclasses import dataclass
from collections.abc import Awaitable, Callable

from pyhanko.sign.fields import MDPPerm

from services.audit.service import Actor
from services.config import Settings
from services.directory.models import Organization, User
from services.errors import DomainError
from services.outgoing.service import IssuedFiles, IssueStamp
from signing import service as signing
from signing.appearance import Appearance
from signing.forms import SignatureFieldSpec, add_text_fields, field_specs_from_markers, fill_text_fields
from signing.placement import find_markers, require_marker, seal_box, signature_box

log = logging.getLogger(__name__)
LEADER_FIELD = "Sig-leader"
SEAL_FIELD = "Sig-seal"


async def _retrying(step: Callable[[], Awaitable[bytes]]) -> bytes:
    """Run a signing step, retrying errors that are not the signer's (wrong PIN, revoked…).

    pyHanko fixes a validation context's moment when it is built and allows one second before
    revocation data counts as "too recent"; on a loaded machine the OCSP answer can arrive
    later than that and the attempt fails without anything being wrong. A retry succeeds.
    """
    for attempt in range(3):
        try:
            return await step()
        except DomainError:
            raise
        except Exception:  # noqa: BLE001 - pyhanko_certvalidator errors outside the domain errors
            if attempt == 2:
                raise
            log.warning("signing attempt failed for a technical reason, retrying", exc_info=True)
            await asyncio.sleep(0.5)
    raise AssertionError  # pragma: no cover


def prepare_pdf(pdf: bytes) -> bytes:
    """Add the number/date fields and reserve the seal's field (before anyone signs)."""
    markers = find_markers(pdf)
    leader = require_marker(markers=markers, key="sig:leader")
    require_marker(markers=markers, key="field:number")
    require_marker(markers=markers, key="field:date")
    seal = SignatureFieldSpec(SEAL_FIELD, leader.page, seal_box(signature=signature_box(marker=leader)))
    return add_text_fields(pdf, field_specs_from_markers(markers=markers), signature_fields=[seal])


@dataclass(frozen=True)
class SigningProfile:
    """What a signature needs from the database (the signature or seal image, the PAdES level),
    read before the signing's network calls (OCSP, time stamp) so no transaction waits on them."""

    image: bytes | None
    level: str


async def signing_profile(session: object, *, settings: Settings, organization_id: int, user_id: int | None = None) -> SigningProfile:
    """A person's signature image (with `user_id`) or the organisation's seal image, and its level."""
    if user_id is not None:
        image = await signing.profile_image(session, settings=settings, user_id=user_id)  # type: ignore[arg-type]
    else:
        image = await signing.profile_image(session, settings=settings, organization_id=organization_id)  # type: ignore[arg-type]
    level = await signing.org_level(session, settings=settings, organization_id=organization_id)  # type: ignore[arg-type]
    return SigningProfile(image=image, level=level)


async def sign_as_leader(
    *, settings: Settings, profile: SigningProfile, actor: Actor, user: User, pin: str, pdf: bytes, document_id: int,
) -> bytes:
    """The leader's visible certification signature allowing only form filling afterwards."""
    return await _retrying(lambda: signing.sign_as_person(
        settings=settings, actor=actor, user=user, pin=pin, pdf=pdf, level=profile.level,
        appearance=Appearance.signature(name=user.full_name, marker="leader", image_png=profile.image),
        field_name=LEADER_FIELD, reason="Ký ban hành văn bản", location=None, certify=MDPPerm.FILL_FORMS,
        target=signing.SigningTarget("outgoing", document_id),
    ))


async def issue_seal(
    *, settings: Settings, profile: SigningProfile, actor: Actor, org: Organization, pin: str,
    leader_pdf: bytes, stamp: IssueStamp, pdf_attachments: dict[int, bytes],
) -> IssuedFiles:
    """Fill number and date into the leader-signed PDF, then apply the seal; seal attachments.
    Uses no database session: it runs between the two transactions of `outgoing.issue`."""
    image, level = profile.image, profile.level
    filled = await asyncio.to_thread(fill_text_fields, leader_pdf, {"number": stamp.notation, "date": stamp.date_line})
    target = signing.SigningTarget("outgoing", stamp.document_id)
    sealed = await _retrying(lambda: signing.sign_as_org(
        settings=settings, actor=actor, org=org, pin=pin, pdf=filled, level=level,
        appearance=Appearance.seal(org_name=org.name, over_marker="leader", image_png=image),
        field_name=SEAL_FIELD, reason=f"Phát hành văn bản số {stamp.notation}", target=target,
    ))
    attachments = {}
    for attachment_id, data in pdf_attachments.items():
        attachments[attachment_id] = await _retrying(lambda data=data: signing.sign_as_org(  # type: ignore[misc]
            settings=settings, actor=actor, org=org, pin=pin, pdf=data, level=level,
            appearance=Appearance.attachment(notation=stamp.notation), field_name="Sig-seal-attachment",
            reason=f"Phụ lục văn bản số {stamp.notation}", target=target,
        ))
    return IssuedFiles(pdf=sealed, attachments=attachments)
