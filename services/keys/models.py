"""Registered signer certificates and per-key PIN failure counters."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import CheckConstraint, Enum, ForeignKey, Integer, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base, utcnow


class CertStatus(str, enum.Enum):
    pending = "pending"  # proposed by the person from a first signature; an administrator confirms
    confirmed = "confirmed"
    revoked = "revoked"  # final: a revoked certificate is never accepted again


class CertSource(str, enum.Enum):
    admin = "admin"  # uploaded by an administrator
    self = "self"  # proposed by the person from a signed PDF
    system = "system"  # a key the system holds (dev PKI, PKCS#12/PKCS#11 in the settings)


class SignerCertificate(Base):
    """One certificate registered for exactly one person or one organisation (the seal)."""

    __tablename__ = "signer_certificates"
    __table_args__ = (CheckConstraint("(user_id IS NULL) <> (organization_id IS NULL)", name="one_owner"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    fingerprint: Mapped[str] = mapped_column(String(64), unique=True)  # SHA-256 of the DER, hex
    subject: Mapped[str] = mapped_column(String(1000))
    common_name: Mapped[str] = mapped_column(String(255))
    issuer: Mapped[str] = mapped_column(String(1000))
    serial_hex: Mapped[str] = mapped_column(String(80))
    not_before: Mapped[datetime] = mapped_column()
    not_after: Mapped[datetime] = mapped_column()
    der: Mapped[bytes] = mapped_column(LargeBinary)
    status: Mapped[CertStatus] = mapped_column(Enum(CertStatus, native_enum=False, length=16))
    source: Mapped[CertSource] = mapped_column(Enum(CertSource, native_enum=False, length=16))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    confirmed_at: Mapped[datetime | None] = mapped_column()
    confirmed_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoked_at: Mapped[datetime | None] = mapped_column()
    revoked_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    revoke_reason: Mapped[str | None] = mapped_column(String(500))


class PinGuard(Base):
    """Wrong-PIN counter of one key (`person:<username>` or `org:<code>`, as in the keystore)."""

    __tablename__ = "pin_guards"

    key: Mapped[str] = mapped_column(String(160), primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"))
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    failures: Mapped[int] = mapped_column(Integer, default=0)
    not_before: Mapped[datetime | None] = mapped_column()  # no attempt is tried before this instant
    locked_at: Mapped[datetime | None] = mapped_column()  # set at the last allowed failure
    last_failure_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
