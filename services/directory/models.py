"""Tables of the organisation directory."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Base, utcnow


class Level(str, enum.Enum):
    province = "province"
    district = "district"
    commune = "commune"
    branch = "branch"


class Role(str, enum.Enum):
    admin = "admin"
    clerk = "clerk"
    leader = "leader"
    deputy_leader = "deputy_leader"
    officer = "officer"
    secretary = "secretary"
    auditor = "auditor"


# Role groups shared by the domains and the pages; a rule that needs a group names it here.
LEADERS = (Role.leader, Role.deputy_leader)  # direct incoming documents, sign outgoing ones
SIGNERS = (*LEADERS, Role.secretary)  # hold a personal signing key (the secretary signs minutes)
DOCUMENT_READERS = (Role.clerk, *LEADERS, Role.auditor)  # read every document of their organisation
STAFF = (Role.officer, Role.clerk, *LEADERS, Role.secretary)  # draft documents, use the signing page
ORGANISERS = (*LEADERS, Role.clerk, Role.secretary, Role.admin)  # organise meetings, assign tasks


class Organization(Base):
    __tablename__ = "organizations"

    id: Mapped[int] = mapped_column(primary_key=True)
    code: Mapped[str] = mapped_column(String(64), unique=True)
    # Mã định danh điện tử (Decision 20/2020/QĐ-TTg): how other systems address it in edXML.
    national_id: Mapped[str | None] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(255))
    abbreviation: Mapped[str] = mapped_column(String(32))
    level: Mapped[Level] = mapped_column(Enum(Level, native_enum=False, length=16))
    parent_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    parent_body: Mapped[str | None] = mapped_column(String(255))
    place: Mapped[str | None] = mapped_column(String(128))
    email: Mapped[str | None] = mapped_column(String(255))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    units: Mapped[list[Unit]] = relationship(back_populates="organization", order_by="Unit.name")


class Unit(Base):
    __tablename__ = "units"
    __table_args__ = (UniqueConstraint("organization_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(255))
    abbreviation: Mapped[str] = mapped_column(String(32))
    head_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", use_alter=True))
    active: Mapped[bool] = mapped_column(Boolean, default=True)

    organization: Mapped[Organization] = relationship(back_populates="units")


class User(Base):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    full_name: Mapped[str] = mapped_column(String(255))
    position: Mapped[str | None] = mapped_column(String(255))
    email: Mapped[str | None] = mapped_column(String(255))
    phone: Mapped[str | None] = mapped_column(String(32))
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    password_changed_at: Mapped[datetime | None] = mapped_column()
    # Language of what is sent to the person (notifications, e-mails): "vi" or "en".
    language: Mapped[str] = mapped_column(String(8), default="vi", server_default="vi")

    organization: Mapped[Organization] = relationship(foreign_keys=[organization_id])
    unit: Mapped[Unit | None] = relationship(foreign_keys=[unit_id])
    roles: Mapped[list[RoleAssignment]] = relationship(back_populates="user", cascade="all, delete-orphan")


class RoleAssignment(Base):
    __tablename__ = "role_assignments"
    __table_args__ = (UniqueConstraint("user_id", "organization_id", "role"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    role: Mapped[Role] = mapped_column(Enum(Role, native_enum=False, length=32))

    user: Mapped[User] = relationship(back_populates="roles")
    organization: Mapped[Organization] = relationship()


class SigningProfile(Base):
    """A person's uploaded signature image, or an organisation's seal image and PAdES level."""

    __tablename__ = "signing_profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), unique=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), unique=True)
    image_sha256: Mapped[str | None] = mapped_column(String(64))
    pades_level: Mapped[str | None] = mapped_column(String(8))
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
