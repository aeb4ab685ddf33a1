"""Signing the minutes (Biên bản), shared by their page (web/routes/minutes.py) and the public
API (web/api_v1/minutes.py): the awaited signer — the secretary, then the chair — signs with
their PIN.

Three steps, so a page can answer a refused PIN with its form again: `prepare` reads what the
signature needs while a transaction may be open, `open_key` opens the key (a wrong PIN raises the
counted DomainError and commits), `finish` signs — waiting on OCSP and the time stamp with no
transaction open — then checks it is still this signer's turn and records the signature.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pyhanko.sign.fields import MDPPerm
from sqlalchemy.ext.asyncio import AsyncSession

from meetings.minutes import service as minutes_service
from meetings.minutes.document import CHAIR_FIELD, SECRETARY_FIELD
from meetings.minutes.models import Minutes
from services.authz import Principal
from services.blobs import BlobStore
from services.config import Settings
from services.errors import Conflict, InvalidInput
from services.i18n import _l
from services.outbox.service import tell
from signing import service as signing
from signing.appearance import Appearance


@dataclass(frozen=True)
class Turn:
    minutes: Minutes
    role: str  # secretary | chair
    pdf: bytes
    image: bytes | None
    level: Any


async def prepare(session: AsyncSession, settings: Settings, principal: Principal, minutes_id: int) -> Turn:
    """Refuses anyone whose turn it is not; reads the PDF, the signature image and level."""
    minutes, _acc, role, pdf = await minutes_service.turn(session, settings=settings, principal=principal, minutes_id=minutes_id)
    image = await signing.profile_image(session, settings=settings, user_id=principal.user.id)
    level = await signing.org_level(session, settings=settings, organization_id=minutes.organization_id)
    return Turn(minutes, role, pdf, image, level)


async def open_key(session: AsyncSession, settings: Settings, principal: Principal, minutes_id: int, pin: str) -> Any:
    if not pin.strip():
        raise InvalidInput(_l("Enter your signing PIN."))
    target = signing.SigningTarget("minutes", minutes_id)
    return await signing.open_signer(session, settings=settings, actor=principal.actor, pin=pin, user=principal.user, target=target)


async def finish(session: AsyncSession, settings: Settings, principal: Principal, turn: Turn, key: Any) -> Minutes:
    minutes_id, role = turn.minutes.id, turn.role
    # open_signer left no transaction open: signing waits on OCSP and the time stamp.
    signed_pdf = await signing.sign_as_person(
        settings=settings,
        signer=key,
        actor=principal.actor,
        user=principal.user,
        pdf=turn.pdf,
        level=turn.level,
        appearance=Appearance.signature(name=principal.user.full_name, marker=role, image_png=turn.image),
        field_name=SECRETARY_FIELD if role == "secretary" else CHAIR_FIELD,
        reason="Ký biên bản cuộc họp",
        certify=MDPPerm.FILL_FORMS if role == "secretary" else None,
        target=signing.SigningTarget("minutes", minutes_id),
    )
    sha = BlobStore.for_settings(settings).put(signed_pdf)
    minutes, _acc, again, _pdf = await minutes_service.turn(
        session, settings=settings, principal=principal, minutes_id=minutes_id, for_update=True
    )
    if again != role:
        raise Conflict(_l("The minutes changed while they were signed."))
    await minutes_service.record_signature(session, principal=principal, minutes=minutes, role=role, signed_sha=sha)
    await tell(session, "minutes", minutes_id, "signed", role, sha)
    return minutes
