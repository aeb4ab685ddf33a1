"""Tables of report requests (yêu cầu báo cáo): the request, its figures, one row per target
organisation, and every submission a target made (resubmissions keep the history)."""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Base, utcnow


class RequestStatus(str, enum.Enum):
    awaiting_letter = "awaiting_letter"  # its letter (an outgoing document) is not issued yet
    open = "open"  # fanned out (or fanning out), waiting for reports
    completed = "completed"  # every target submitted
    closed = "closed"  # closed by the requester (early or after the deadline)


class TargetStatus(str, enum.Enum):
    pending = "pending"  # the request has not reached the target yet
    delivered = "delivered"  # in the target's incoming register, no report yet
    awaiting_approval = "awaiting_approval"  # drafted by the officer, waiting for the leader
    submitted = "submitted"  # a report is in (maybe resubmitted since)
    missing = "missing"  # the request closed without a report


class SubmissionStatus(str, enum.Enum):
    awaiting_approval = "awaiting_approval"
    rejected = "rejected"  # the leader sent it back to the officer
    submitted = "submitted"  # the current report of the target
    superseded = "superseded"  # replaced by a later submission (history)


class FieldKind(str, enum.Enum):
    integer = "integer"
    decimal = "decimal"
    text = "text"
    percent = "percent"


class ReportRequest(Base):
    __tablename__ = "report_requests"
    __table_args__ = (Index("ix_report_requests_org_status", "organization_id", "status"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    # From the outgoing register when the letter is issued (requests before 0024: their own counter).
    number: Mapped[int | None] = mapped_column(Integer)
    year: Mapped[int] = mapped_column(Integer)
    notation: Mapped[str | None] = mapped_column(String(64))
    title: Mapped[str] = mapped_column(String(500))
    instructions: Mapped[str] = mapped_column(Text, default="")
    template_filename: Mapped[str | None] = mapped_column(String(255))
    template_content_type: Mapped[str | None] = mapped_column(String(128))
    template_sha256: Mapped[str | None] = mapped_column(String(64))
    letter_sha256: Mapped[str | None] = mapped_column(String(64))  # the request as a công văn (DOCX)
    # The công văn as an outgoing document: signed, numbered, sealed and issued like any other.
    letter_outgoing_id: Mapped[int | None] = mapped_column(Integer, index=True, unique=True)
    deadline: Mapped[datetime] = mapped_column()
    requires_approval: Mapped[bool] = mapped_column(Boolean, default=False)
    scope_label: Mapped[str] = mapped_column(String(255), default="")
    status: Mapped[str] = mapped_column(String(16), default=RequestStatus.open.value)
    target_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    closed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    close_reason: Mapped[str | None] = mapped_column(Text)

    fields: Mapped[list[ReportField]] = relationship(
        back_populates="request", order_by="ReportField.position", cascade="all, delete-orphan", lazy="selectin"
    )


class ReportField(Base):
    """One structured figure every target fills in (name, unit, type)."""

    __tablename__ = "report_fields"
    __table_args__ = (UniqueConstraint("request_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("report_requests.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    name: Mapped[str] = mapped_column(String(255))
    unit: Mapped[str] = mapped_column(String(64), default="")
    kind: Mapped[str] = mapped_column(String(16), default=FieldKind.integer.value)
    required: Mapped[bool] = mapped_column(Boolean, default=True)

    request: Mapped[ReportRequest] = relationship(back_populates="fields")


class ReportTarget(Base):
    """One organisation asked for a report and its own deadline (extensions); the notices sent
    for it are in `deadline_notices` (kind `report_target`)."""

    __tablename__ = "report_targets"
    __table_args__ = (
        UniqueConstraint("request_id", "organization_id"),
        Index("ix_report_targets_org_status", "organization_id", "status"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    request_id: Mapped[int] = mapped_column(ForeignKey("report_requests.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    position: Mapped[int] = mapped_column(Integer)  # order of the fan-out
    status: Mapped[str] = mapped_column(String(24), default=TargetStatus.pending.value)
    deadline: Mapped[datetime] = mapped_column()
    incoming_id: Mapped[int | None] = mapped_column(Integer)  # the target's incoming document
    assignee_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    delivered_at: Mapped[datetime | None] = mapped_column()
    first_submitted_at: Mapped[datetime | None] = mapped_column()
    submitted_at: Mapped[datetime | None] = mapped_column()
    on_time: Mapped[bool | None] = mapped_column(Boolean)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)

    submissions: Mapped[list[ReportSubmission]] = relationship(
        back_populates="target", order_by="ReportSubmission.version", cascade="all, delete-orphan"
    )


class ReportSubmission(Base):
    """A report as one target sent it: file, figures (JSON by field id), who and when."""

    __tablename__ = "report_submissions"
    __table_args__ = (UniqueConstraint("target_id", "version"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    target_id: Mapped[int] = mapped_column(ForeignKey("report_targets.id", ondelete="CASCADE"), index=True)
    version: Mapped[int] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(24))
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(128))
    sha256: Mapped[str | None] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer, default=0)
    figures: Mapped[str] = mapped_column(Text, default="{}")
    note: Mapped[str] = mapped_column(Text, default="")
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    decided_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    decided_at: Mapped[datetime | None] = mapped_column()
    decision_note: Mapped[str | None] = mapped_column(Text)
    submitted_at: Mapped[datetime | None] = mapped_column()

    target: Mapped[ReportTarget] = relationship(back_populates="submissions")
