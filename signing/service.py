"""Signing as a service for the document and meeting flows and the signing pages.

Keys are opened with the PIN the signer typed (never stored, never logged, never sent to a
workflow), in one place: `open_signer`, which also counts wrong PINs per key. A failed attempt raises an error carrying its audit entry, which the web layer
writes after the request's transaction rolled back, so the attempt stays on the record; a
success is recorded by the caller together with the change it makes (storing the signed file).
"""

from __future__ import annotations

import io
import math
from dataclasses import dataclass
from datetime import datetime
from typing import Literal

from PIL import Image, UnidentifiedImageError
from pyhanko.sign.fields import MDPPerm
from pyhanko.sign.signers.pdf_cms import Signer
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import Actor, record
from services.blobs import BlobStore
from services.config import Settings
from services.db import utcnow
from services.directory.models import SIGNERS, Organization, RoleAssignment, SigningProfile, User
from services.errors import DomainError, InvalidInput
from services.i18n import _l
from services.keys import certificates, pins
from services.keys.models import CertStatus, PinGuard
from signing import appearance as looks
from signing.appearance import Appearance
from signing.errors import CertificateRevoked, PinDelayed, PinLocked, WrongPin
from signing.keystore import signer_for_org, signer_for_person, system_certificate_der
from signing.pades import LEVELS, async_sign_pdf
from signing.pki import OrgSpec, PersonSpec
from signing.trust import TrustConfig
from signing.validation import ValidationReport, async_validate_pdf

Level = Literal["B-B", "B-T", "B-LT", "B-LTA"]
SIGNING_ROLES = SIGNERS
MAX_IMAGE_BYTES = 2 * 1024 * 1024


@dataclass(frozen=True)
class SigningTarget:
    """What the audit entry of an attempt points at (e.g. ("outgoing", 12))."""

    object_type: str
    object_id: object


def _failed(error: DomainError, *, actor: Actor, target: SigningTarget | None, signer: str) -> DomainError:
    return error.record_after_rollback(
        actor=actor,
        action="signing.failed",
        object_type=target.object_type if target else "pdf",
        object_id=target.object_id if target else None,
        details={"signer": signer, "error": error.message_en, "kind": type(error).__name__},
    )


async def org_level(session: AsyncSession, *, settings: Settings, organization_id: int) -> Level:
    profile = await session.scalar(select(SigningProfile).where(SigningProfile.organization_id == organization_id))
    level = profile.pades_level if profile and profile.pades_level else settings.pades_level
    return level  # type: ignore[return-value]  # the column and the setting hold a Level as a str


async def profile_image(
    session: AsyncSession, *, settings: Settings, user_id: int | None = None, organization_id: int | None = None
) -> bytes | None:
    """The uploaded signature (user) or seal (organisation) image, or None for a generated one."""
    column = SigningProfile.user_id if user_id is not None else SigningProfile.organization_id
    profile = await session.scalar(select(SigningProfile).where(column == (user_id if user_id is not None else organization_id)))
    if profile is None or not profile.image_sha256:
        return None
    return BlobStore.for_settings(settings).get(profile.image_sha256)


async def preview_png(session: AsyncSession, *, settings: Settings, user: User | None = None, org: Organization | None = None) -> bytes:
    if user is not None:
        return await profile_image(session, settings=settings, user_id=user.id) or looks.generated_signature_png(name=user.full_name)
    assert org is not None
    return await profile_image(session, settings=settings, organization_id=org.id) or looks.generated_seal_png(org_name=org.name)


def _check_png(data: bytes) -> None:
    if not data or len(data) > MAX_IMAGE_BYTES:
        raise InvalidInput(_l("The image must be a PNG under 2 MB."))
    try:
        image = Image.open(io.BytesIO(data))
        image.verify()
    except (UnidentifiedImageError, OSError, SyntaxError):
        raise InvalidInput(_l("Not a valid PNG image.")) from None
    if image.format != "PNG":
        raise InvalidInput(_l("Signature and seal images must be PNG."))


async def set_profile(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor,
    user_id: int | None = None,
    organization_id: int | None = None,
    image_png: bytes | None = None,
    remove_image: bool = False,
    pades_level: str | None = None,
) -> SigningProfile:
    """Upload/remove a signature or seal image, or set an organisation's PAdES level."""
    if pades_level is not None and pades_level not in LEVELS:
        raise InvalidInput(_l("Unknown PAdES level."))
    column = SigningProfile.user_id if user_id is not None else SigningProfile.organization_id
    owner = user_id if user_id is not None else organization_id
    profile = await session.scalar(select(SigningProfile).where(column == owner))
    if profile is None:
        profile = SigningProfile(user_id=user_id, organization_id=organization_id)
        session.add(profile)
    details: dict[str, object] = {}
    if image_png is not None:
        _check_png(image_png)
        profile.image_sha256 = BlobStore.for_settings(settings).put(image_png)
        details["image_sha256"] = profile.image_sha256
    if remove_image:
        profile.image_sha256 = None
        details["image_removed"] = True
    if pades_level is not None:
        profile.pades_level = pades_level
        details["pades_level"] = pades_level
    profile.updated_at = utcnow()
    await session.flush()
    await record(
        session,
        actor=actor,
        action="signing.profile_update",
        object_type="user" if user_id is not None else "organization",
        object_id=owner,
        organization_id=organization_id,
        details=details,
    )
    return profile


def _refused(refusal: tuple[pins.Refusal, datetime | None], *, label: str) -> DomainError:
    kind, until = refusal
    if kind == "locked":
        return PinLocked(
            _l("The signing key of {label} is locked after too many wrong PINs; an administrator must unlock it.", label=label),
        )
    assert until is not None
    seconds = max(1, math.ceil((until - utcnow()).total_seconds()))
    return PinDelayed(
        _l("A wrong PIN was typed moments ago: try again in {seconds} s.", seconds=seconds, astimezone=until.astimezone(looks.VN_TZ)),
        retry_after=seconds,
    )


def _wrong_pin(guard: PinGuard, *, settings: Settings, label: str) -> DomainError:
    if guard.locked_at is not None:
        return PinLocked(
            _l("{failures} wrong PINs in a row: the signing key of {label} is now locked.", failures=guard.failures, label=label),
        )
    left = settings.pin_max_failures - guard.failures
    return WrongPin(
        _l("The signing PIN is wrong. {left} attempt(s) left before the key is locked.", left=left),
    )


async def open_signer(
    session: AsyncSession,
    *,
    settings: Settings,
    actor: Actor,
    pin: str,
    user: User | None = None,
    org: Organization | None = None,
    target: SigningTarget | None = None,
) -> Signer:
    """Open a person's key (`user`) or an organisation's seal (`org`) with the PIN typed.

    The one place a PIN is checked. An attempt on a key that is locked, or within its delay
    after a wrong PIN, is refused without trying the PIN. A wrong PIN is counted (delay, then
    lock) and a right one resets the count. The key's certificate is registered for its owner
    when first seen (keys the system holds are the owner's by provisioning). Commits the
    session: a counted failure must stay recorded although the request then fails; no
    transaction is open when it returns.
    """
    if user is not None:
        ref = pins.KeyRef.person(username=user.username, user_id=user.id, organization_id=user.organization_id)
        label, owner = user.full_name, {"user_id": user.id}
    else:
        assert org is not None
        ref = pins.KeyRef.seal(code=org.code, organization_id=org.id)
        label, owner = org.name, {"organization_id": org.id}
    where = {"object_type": target.object_type if target else "pdf", "object_id": target.object_id if target else None}
    refusal = pins.refusal(await pins.state(session, key=ref.key))
    if refusal is not None:
        raise _refused(refusal, label=label).record_after_rollback(
            actor=actor,
            action="signing.pin_refused",
            **where,
            organization_id=ref.organization_id,
            details={"key": ref.key, "reason": refusal[0]},
        )
    await session.commit()
    try:
        if user is not None:
            signer = signer_for_person(data_dir=settings.data_dir, username=user.username, pin=pin, settings=settings)
        else:
            signer = signer_for_org(data_dir=settings.data_dir, org_code=org.code, pin=pin, settings=settings)  # type: ignore[union-attr]  # no user: org (asserted above)
    except WrongPin:
        guard = await pins.record_failure(session, settings=settings, actor=actor, ref=ref, details={"signer": ref.key, **where})
        await session.commit()
        raise _wrong_pin(guard, settings=settings, label=label) from None
    except DomainError as error:
        raise _failed(error, actor=actor, target=target, signer=ref.key) from None
    await pins.record_success(session, actor=actor, ref=ref)
    assert signer.signing_cert is not None
    registration = await certificates.ensure_system_key(session, der=signer.signing_cert.dump(), **owner)
    await session.commit()
    if registration.status != CertStatus.confirmed:
        raise CertificateRevoked(
            _l("The certificate of this signing key ({label}) was revoked by an administrator.", label=label),
        ).record_after_rollback(
            actor=actor, action="signing.failed", **where, details={"signer": ref.key, "error": "certificate registration revoked"}
        )
    return signer


async def expected_fingerprints(
    session: AsyncSession, *, settings: Settings, user: User | None = None, org: Organization | None = None
) -> set[str]:
    """Certificates whose signatures count as this person's (or this organisation's seal):
    the confirmed registrations, the key the system holds for them included."""
    if user is not None:
        owner, ids = f"person:{user.username}", {"user_id": user.id}
    else:
        assert org is not None
        owner, ids = f"org:{org.code}", {"organization_id": org.id}
    der = system_certificate_der(data_dir=settings.data_dir, owner=owner, settings=settings)
    if der is not None:
        await certificates.ensure_system_key(session, der=der, **ids)
    return await certificates.accepted_fingerprints(session, **ids)


async def register_system_keys(session: AsyncSession, *, settings: Settings) -> int:
    """Register the certificates of every key the system holds for the directory's people and
    organisations (after the development PKI was created or completed); returns how many."""
    count = 0
    for user in (await session.scalars(select(User))).all():
        der = system_certificate_der(data_dir=settings.data_dir, owner=f"person:{user.username}", settings=settings)
        if der is not None:
            await certificates.ensure_system_key(session, der=der, user_id=user.id)
            count += 1
    for org in (await session.scalars(select(Organization))).all():
        der = system_certificate_der(data_dir=settings.data_dir, owner=f"org:{org.code}", settings=settings)
        if der is not None:
            await certificates.ensure_system_key(session, der=der, organization_id=org.id)
            count += 1
    return count


async def sign_as_person(
    *,
    settings: Settings,
    signer: Signer,
    actor: Actor,
    user: User,
    pdf: bytes,
    level: Level,
    appearance: Appearance | None,
    field_name: str,
    reason: str | None = None,
    location: str | None = None,
    certify: MDPPerm | None = None,
    target: SigningTarget | None = None,
) -> bytes:
    """Sign with the person's own key, opened by `open_signer`."""
    try:
        return await async_sign_pdf(
            pdf,
            signer=signer,
            level=level,
            trust=TrustConfig.from_settings(settings),
            appearance=appearance,
            field_name=field_name,
            reason=reason,
            location=location,
            certify=certify,
        )
    except DomainError as error:
        raise _failed(error, actor=actor, target=target, signer=user.username) from None


async def sign_as_org(
    *,
    settings: Settings,
    signer: Signer,
    actor: Actor,
    org: Organization,
    pdf: bytes,
    level: Level,
    appearance: Appearance | None,
    field_name: str,
    reason: str | None = None,
    target: SigningTarget | None = None,
) -> bytes:
    """Apply the organisation's signature (the seal), opened by `open_signer` for a clerk."""
    try:
        return await async_sign_pdf(
            pdf,
            signer=signer,
            level=level,
            trust=TrustConfig.from_settings(settings),
            appearance=appearance,
            field_name=field_name,
            reason=reason,
            location=org.place,
        )
    except DomainError as error:
        raise _failed(error, actor=actor, target=target, signer=org.code) from None


async def validate(*, settings: Settings, pdf: bytes) -> ValidationReport:
    """Validation report of every signature in a PDF (InvalidPdf for a broken file)."""
    return await async_validate_pdf(pdf, trust=TrustConfig.from_settings(settings))


async def directory_specs(session: AsyncSession, *, pin: str) -> tuple[list[PersonSpec], list[OrgSpec]]:
    """Development PKI subjects from the directory: people in signing roles, every organisation."""
    orgs = {o.id: o for o in (await session.scalars(select(Organization))).all()}
    signer_ids = set((await session.scalars(select(RoleAssignment.user_id).where(RoleAssignment.role.in_(SIGNING_ROLES)))).all())
    users = (await session.scalars(select(User).where(User.id.in_(signer_ids)).order_by(User.id))).all()
    people = [
        PersonSpec(
            username=u.username,
            full_name=u.full_name,
            org_name=orgs[u.organization_id].name,
            position=u.position or "",
            email=u.email or "",
            pin=pin,
        )
        for u in users
    ]
    org_specs = [OrgSpec(code=o.code, name=o.name, abbreviation=o.abbreviation, pin=pin) for o in orgs.values()]
    return people, org_specs
