"""Tables of the minutes (biên bản).

The typed part of the minutes (per agenda item: discussion, opinions, conclusion; an opening and
a closing note) is one JSON document, saved whole with a revision number: a save must name the
revision it was based on, so two devices never silently overwrite each other. Every saved
revision is kept (`minutes_revisions`), and so is every refused stale save (number NULL,
`kind = "conflict"`), so no typed text is ever lost. Attendance, times and votes are not typed:
they are read from the meeting when the minutes are shown or rendered.
"""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Date, Enum, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base, utcnow


class MinutesStatus(str, enum.Enum):
    draft = "draft"  # being written (during or after the meeting)
    rendering = "rendering"  # closed by the secretary, the Biên bản is being produced
    awaiting_secretary = "awaiting_secretary"
    awaiting_chair = "awaiting_chair"
    returned = "returned"  # refused by a signer, back with the secretary
    signed = "signed"  # both signatures valid; numbered in the BB series right after
    distributed = "distributed"  # sent to participants and invited units


EDITABLE = (MinutesStatus.draft, MinutesStatus.returned)


class Minutes(Base):
    __tablename__ = "minutes"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), unique=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    status: Mapped[MinutesStatus] = mapped_column(
        Enum(MinutesStatus, native_enum=False, length=24), default=MinutesStatus.draft, index=True
    )
    revision: Mapped[int] = mapped_column(Integer, default=0)
    content: Mapped[str] = mapped_column(Text, default="{}", doc="JSON: opening, items{agenda id: …}, closing")
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    round: Mapped[int] = mapped_column(Integer, default=0, doc="how many times it was closed for signing")
    closed_revision: Mapped[int | None] = mapped_column(Integer)
    docx_sha: Mapped[str | None] = mapped_column(String(64))
    pdf_sha: Mapped[str | None] = mapped_column(String(64), doc="prepared PDF: fields added, unsigned")
    secretary_pdf_sha: Mapped[str | None] = mapped_column(String(64))
    secretary_signed_at: Mapped[datetime | None] = mapped_column()
    chair_pdf_sha: Mapped[str | None] = mapped_column(String(64))
    chair_signed_at: Mapped[datetime | None] = mapped_column()
    final_pdf_sha: Mapped[str | None] = mapped_column(String(64))
    secretary_due: Mapped[date | None] = mapped_column(Date)
    chair_due: Mapped[date | None] = mapped_column(Date)
    number: Mapped[int | None] = mapped_column(Integer)
    notation: Mapped[str | None] = mapped_column(String(64))
    issued_on: Mapped[date | None] = mapped_column(Date)
    return_comment: Mapped[str | None] = mapped_column(Text)
    returned_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    verify_error: Mapped[str | None] = mapped_column(Text)
    validation: Mapped[str | None] = mapped_column(Text, doc="JSON report of the final PDF")
    distributed_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class MinutesRevision(Base):
    __tablename__ = "minutes_revisions"
    __table_args__ = (UniqueConstraint("minutes_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    minutes_id: Mapped[int] = mapped_column(ForeignKey("minutes.id", ondelete="CASCADE"), index=True)
    number: Mapped[int | None] = mapped_column(Integer, doc="NULL for a refused (stale) save kept as a conflict copy")
    base_number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(16), default="saved", doc="saved | conflict")
    content: Mapped[str] = mapped_column(Text)
    saved_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    saved_at: Mapped[datetime] = mapped_column(default=utcnow)
