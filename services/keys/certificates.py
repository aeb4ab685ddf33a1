"""Which certificates count as a person's or an organisation's signature.

An uploaded signature is accepted only when its signing certificate is registered here for the
expected signer and confirmed: names are never enough (Vietnamese full names repeat, and any
trusted CA may certify a namesake). Certificates get here three ways:
- an administrator uploads one (.cer/.pem/.der): confirmed at once;
- the person proposes the certificate of a first signature (a signed PDF): pending until an
  administrator confirms it;
- the keys the system holds itself (the person's key opened by PIN, the organisation's seal)
  are registered, confirmed, when they are provisioned or first used (`ensure_system_key`).
Revocation is final. Every registration, confirmation and revocation is in the audit trail.
"""

from __future__ import annotations

import hashlib
import unicodedata
from datetime import UTC

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit.service import Actor, record
from services.authz import OrgTree
from services.db import utcnow
from services.directory.models import Organization, Role, RoleAssignment, User
from services.errors import Conflict, InvalidInput, NotFound
from services.i18n import _l
from services.keys.models import CertSource, CertStatus, SignerCertificate
from services.notifications.service import notify

MAX_CERT_BYTES = 64 * 1024
SYSTEM_ACTOR = Actor.system("keystore")


def _nfc(text: str) -> str:
    return unicodedata.normalize("NFC", text)


def parse_certificate(data: bytes) -> x509.Certificate:
    """A certificate from a .cer/.crt/.pem/.der file (PEM or DER)."""
    bad = InvalidInput(
        _l("Not a valid certificate file (.cer, .pem or .der)."),
    )
    if not data or len(data) > MAX_CERT_BYTES:
        raise bad
    try:
        if b"-----BEGIN CERTIFICATE-----" in data:
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError:
        raise bad from None


def fingerprint_of(der: bytes) -> str:
    return hashlib.sha256(der).hexdigest()


def _facts(cert: x509.Certificate) -> dict[str, object]:
    names = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    der = cert.public_bytes(Encoding.DER)
    return {
        "fingerprint": fingerprint_of(der),
        "subject": _nfc(cert.subject.rfc4514_string())[:1000],
        "common_name": _nfc(str(names[0].value) if names else "")[:255],
        "issuer": _nfc(cert.issuer.rfc4514_string())[:1000],
        "serial_hex": format(cert.serial_number, "x"),
        "not_before": cert.not_valid_before_utc.astimezone(UTC),
        "not_after": cert.not_valid_after_utc.astimezone(UTC),
        "der": der,
    }


async def _owner_org(session: AsyncSession, *, user_id: int | None, organization_id: int | None) -> int:
    if user_id is not None:
        user = await session.get(User, user_id)
        if user is None:
            raise NotFound(_l("user not found"))
        return user.organization_id
    if organization_id is None or await session.get(Organization, organization_id) is None:
        raise NotFound(_l("Organisation not found."))
    return organization_id


def _details(row: SignerCertificate, **more: object) -> dict[str, object]:
    return {
        "fingerprint": row.fingerprint,
        "serial": row.serial_hex,
        "issuer": row.issuer,
        "subject": row.subject,
        "user_id": row.user_id,
        "organization_id": row.organization_id,
        "source": row.source.value,
        **more,
    }


async def register(
    session: AsyncSession,
    *,
    actor: Actor,
    der_or_pem: bytes,
    source: CertSource,
    user_id: int | None = None,
    organization_id: int | None = None,
) -> SignerCertificate:
    """Register a certificate for one person or one organisation.

    From an administrator or the system it is confirmed at once; proposed by the person it waits
    for an administrator. Registering it again for the same owner returns the row (an
    administrator's registration confirms a pending one); a certificate registered for someone
    else, or revoked, is refused.
    """
    if (user_id is None) == (organization_id is None):
        raise InvalidInput(_l("Choose the certificate's owner."))
    facts = _facts(parse_certificate(der_or_pem))
    owner_org = await _owner_org(session, user_id=user_id, organization_id=organization_id)
    existing = await session.scalar(select(SignerCertificate).where(SignerCertificate.fingerprint == facts["fingerprint"]))
    if existing is not None:
        if (existing.user_id, existing.organization_id) != (user_id, organization_id):
            raise Conflict(_l("This certificate is registered for someone else."))
        if existing.status == CertStatus.revoked:
            raise Conflict(_l("This certificate's registration was revoked and cannot be reused."))
        if existing.status == CertStatus.pending and source != CertSource.self:
            return await confirm(session, actor=actor, cert_id=existing.id)
        return existing
    now = utcnow()
    confirmed = source != CertSource.self
    row = SignerCertificate(
        user_id=user_id,
        organization_id=organization_id,
        source=source,
        status=CertStatus.confirmed if confirmed else CertStatus.pending,
        created_at=now,
        created_by=actor.user_id,
        confirmed_at=now if confirmed else None,
        confirmed_by=actor.user_id if confirmed else None,
        **facts,
    )
    session.add(row)
    await session.flush()
    await record(
        session,
        actor=actor,
        action="certificate.register",
        object_type="certificate",
        object_id=row.id,
        organization_id=owner_org,
        details=_details(row, status=row.status.value),
    )
    if row.status == CertStatus.pending:
        await notify(
            session,
            user_ids=await _admins_of(session, owner_org),
            kind="certificate.pending",
            link="/admin/certificates",
            dedupe_key=f"certificate-{row.id}-pending",
            title=_l(
                "Certificate awaiting confirmation: {common_name} (serial {serial_hex})",
                common_name=row.common_name,
                serial_hex=row.serial_hex.upper(),
            ),
            body=_l("Proposed by {value} from a first signature. Check with the user before confirming.", value=actor.name or ""),
        )
    return row


async def _admins_of(session: AsyncSession, org_id: int) -> set[int]:
    """Administrators of an organisation or of any organisation above it."""
    scope = (await OrgTree.load(session)).ancestors_and_self(org_id)
    rows = await session.scalars(
        select(RoleAssignment.user_id).where(RoleAssignment.role == Role.admin, RoleAssignment.organization_id.in_(scope))
    )
    return set(rows.all())


async def get(session: AsyncSession, *, cert_id: int, for_update: bool = False) -> SignerCertificate:
    query = select(SignerCertificate).where(SignerCertificate.id == cert_id)
    row = await session.scalar(query.with_for_update() if for_update else query)
    if row is None:
        raise NotFound(_l("certificate not found"))
    return row


async def owner_org(session: AsyncSession, row: SignerCertificate) -> int:
    """The organisation whose administrators manage this certificate."""
    return await _owner_org(session, user_id=row.user_id, organization_id=row.organization_id)


async def confirm(session: AsyncSession, *, actor: Actor, cert_id: int) -> SignerCertificate:
    """An administrator confirms a pending certificate: signatures made with it count from now on."""
    row = await get(session, cert_id=cert_id, for_update=True)
    if row.status == CertStatus.confirmed:
        return row
    if row.status == CertStatus.revoked:
        raise Conflict(_l("This certificate's registration was revoked."))
    row.status, row.confirmed_at, row.confirmed_by = CertStatus.confirmed, utcnow(), actor.user_id
    await record(
        session,
        actor=actor,
        action="certificate.confirm",
        object_type="certificate",
        object_id=row.id,
        organization_id=await owner_org(session, row),
        details=_details(row),
    )
    return row


async def revoke(session: AsyncSession, *, actor: Actor, cert_id: int, reason: str) -> SignerCertificate:
    """Stop accepting signatures made with this certificate (final)."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidInput(_l("Say why the certificate is revoked."))
    row = await get(session, cert_id=cert_id, for_update=True)
    if row.status == CertStatus.revoked:
        return row
    row.status, row.revoked_at, row.revoked_by, row.revoke_reason = CertStatus.revoked, utcnow(), actor.user_id, reason[:500]
    await record(
        session,
        actor=actor,
        action="certificate.revoke",
        object_type="certificate",
        object_id=row.id,
        organization_id=await owner_org(session, row),
        details=_details(row, reason=reason[:500]),
    )
    return row


async def listing(
    session: AsyncSession,
    *,
    user_ids: set[int] | None = None,
    organization_ids: set[int] | None = None,
) -> list[SignerCertificate]:
    """Certificates of these people and organisations, pending first, newest first."""
    clauses = []
    if user_ids:
        clauses.append(SignerCertificate.user_id.in_(user_ids))
    if organization_ids:
        clauses.append(SignerCertificate.organization_id.in_(organization_ids))
    if not clauses:
        return []
    from sqlalchemy import case, or_

    pending_first = case((SignerCertificate.status == CertStatus.pending, 0), else_=1)
    rows = await session.scalars(
        select(SignerCertificate)
        .where(or_(*clauses))
        .order_by(pending_first, SignerCertificate.created_at.desc(), SignerCertificate.id.desc())
    )
    return list(rows.all())


async def accepted_fingerprints(session: AsyncSession, *, user_id: int | None = None, organization_id: int | None = None) -> set[str]:
    """Fingerprints of the confirmed certificates of a person (or an organisation's seal)."""
    column = SignerCertificate.user_id if user_id is not None else SignerCertificate.organization_id
    rows = await session.scalars(
        select(SignerCertificate.fingerprint).where(
            column == (user_id if user_id is not None else organization_id), SignerCertificate.status == CertStatus.confirmed
        )
    )
    return set(rows.all())


async def ensure_system_key(
    session: AsyncSession,
    *,
    der: bytes,
    user_id: int | None = None,
    organization_id: int | None = None,
) -> SignerCertificate:
    """Register, confirmed, the certificate of a key the system holds for this owner, unless it is
    known already: a registration an administrator revoked stays revoked."""
    existing = await session.scalar(select(SignerCertificate).where(SignerCertificate.fingerprint == fingerprint_of(der)))
    if existing is not None and (existing.user_id, existing.organization_id) == (user_id, organization_id):
        if existing.status == CertStatus.pending:  # proposed by the person; the system holds that very key
            return await confirm(session, actor=SYSTEM_ACTOR, cert_id=existing.id)
        return existing
    try:
        async with session.begin_nested():
            return await register(
                session, actor=SYSTEM_ACTOR, der_or_pem=der, source=CertSource.system, user_id=user_id, organization_id=organization_id
            )
    except IntegrityError:
        # The key's first use in two transactions at once (a clerk sealing while a worker checks a
        # signature): the other registered it first; its row is the one to use.
        existing = await session.scalar(select(SignerCertificate).where(SignerCertificate.fingerprint == fingerprint_of(der)))
        if existing is None or (existing.user_id, existing.organization_id) != (user_id, organization_id):
            raise
        return existing
