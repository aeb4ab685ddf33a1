"""Tables of the meeting domain.

Secret polls are stored unlinkable to the voter: `meeting_poll_voters` records only *that*
a person voted (its `option_id` stays NULL), and the choice only increments a per-option
counter in `meeting_poll_options.votes`. No row, id or timestamp ties a person to a choice.
"""

from __future__ import annotations

import enum
from datetime import datetime

from sqlalchemy import Boolean, Enum, Float, ForeignKey, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Base, utcnow


def _enum(cls: type[enum.Enum], length: int = 24) -> Enum:
    return Enum(cls, native_enum=False, length=length)


class MeetingStatus(str, enum.Enum):
    draft = "draft"
    scheduled = "scheduled"
    open = "open"
    closed = "closed"
    cancelled = "cancelled"


class MeetingMode(str, enum.Enum):
    in_person = "in_person"
    online = "online"
    hybrid = "hybrid"


class ParticipantRole(str, enum.Enum):
    chair = "chair"
    secretary = "secretary"
    member = "member"
    guest = "guest"


class Attendance(str, enum.Enum):
    unknown = "unknown"
    present = "present"
    absent = "absent"


class Reply(str, enum.Enum):
    none = "none"
    accepted = "accepted"
    declined = "declined"


class UnitReply(str, enum.Enum):
    pending = "pending"
    answered = "answered"
    declined = "declined"


class ItemStatus(str, enum.Enum):
    pending = "pending"
    running = "running"
    done = "done"


class SpeakerStatus(str, enum.Enum):
    waiting = "waiting"
    speaking = "speaking"
    done = "done"
    withdrawn = "withdrawn"


class PollVisibility(str, enum.Enum):
    open = "open"  # counts are public, each choice is kept (so it can be changed) but not shown
    named = "named"  # each person's choice is shown with the result
    secret = "secret"  # no link between a person and a choice is ever stored


class Threshold(str, enum.Enum):
    majority_present = "majority_present"
    two_thirds_present = "two_thirds_present"
    majority_members = "majority_members"
    two_thirds_members = "two_thirds_members"


class PollStatus(str, enum.Enum):
    open = "open"
    closed = "closed"


class Meeting(Base):
    __tablename__ = "meetings"

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    title: Mapped[str] = mapped_column(String(500))
    description: Mapped[str] = mapped_column(Text, default="")
    chair_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    secretary_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    starts_at: Mapped[datetime] = mapped_column(index=True)
    ends_at: Mapped[datetime] = mapped_column()
    mode: Mapped[MeetingMode] = mapped_column(_enum(MeetingMode), default=MeetingMode.online)
    place: Mapped[str] = mapped_column(String(255), default="")
    video_url: Mapped[str | None] = mapped_column(String(500), doc="an organiser-given link; else derived")
    status: Mapped[MeetingStatus] = mapped_column(_enum(MeetingStatus), default=MeetingStatus.draft, index=True)
    quorum_ratio: Mapped[float] = mapped_column(Float, default=0.5)
    current_item_id: Mapped[int | None] = mapped_column(Integer)
    projector_token: Mapped[str] = mapped_column(String(64), unique=True)
    schedule_version: Mapped[int] = mapped_column(Integer, default=0)
    invitations_sent_at: Mapped[datetime | None] = mapped_column()
    invitation_docx_sha: Mapped[str | None] = mapped_column(String(64))
    invitation_pdf_sha: Mapped[str | None] = mapped_column(String(64))
    invitation_outgoing_id: Mapped[int | None] = mapped_column(Integer)
    opened_at: Mapped[datetime | None] = mapped_column()
    closed_at: Mapped[datetime | None] = mapped_column()
    cancelled_at: Mapped[datetime | None] = mapped_column()
    cancel_reason: Mapped[str | None] = mapped_column(Text)
    created_by: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)

    items: Mapped[list[AgendaItem]] = relationship(order_by="AgendaItem.position", viewonly=True)


class MeetingUnit(Base):
    """A lower-level organisation invited as a whole; it names who attends for it (a site)."""

    __tablename__ = "meeting_units"
    __table_args__ = (UniqueConstraint("meeting_id", "organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    reply: Mapped[UnitReply] = mapped_column(_enum(UnitReply), default=UnitReply.pending)
    reply_note: Mapped[str] = mapped_column(Text, default="")
    replied_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    replied_at: Mapped[datetime | None] = mapped_column()
    site_present: Mapped[bool] = mapped_column(Boolean, default=False)
    site_marked_at: Mapped[datetime | None] = mapped_column()


class MeetingParticipant(Base):
    __tablename__ = "meeting_participants"
    __table_args__ = (UniqueConstraint("meeting_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    role: Mapped[ParticipantRole] = mapped_column(_enum(ParticipantRole), default=ParticipantRole.member)
    voting: Mapped[bool] = mapped_column(Boolean, default=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_units.id", ondelete="CASCADE"))
    reply: Mapped[Reply] = mapped_column(_enum(Reply), default=Reply.none)
    attendance: Mapped[Attendance] = mapped_column(_enum(Attendance), default=Attendance.unknown)
    checked_in_at: Mapped[datetime | None] = mapped_column()
    checked_in_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    in_room: Mapped[bool] = mapped_column(Boolean, default=False, doc="marked by the secretary in the room")
    absence_reason: Mapped[str] = mapped_column(Text, default="")
    left_at: Mapped[datetime | None] = mapped_column(doc="when a person present left before the end")
    # A substitute (người dự thay) sits in an invited member's seat: not a seat of their own.
    substitute_for_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_participants.id", ondelete="CASCADE"))
    authorisation: Mapped[str] = mapped_column(Text, default="", doc="the written authorisation a substitute brings")


class AgendaItem(Base):
    __tablename__ = "meeting_agenda_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    title: Mapped[str] = mapped_column(String(500))
    presenter_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    presenter_name: Mapped[str] = mapped_column(String(255), default="")
    planned_minutes: Mapped[int] = mapped_column(Integer, default=10)
    status: Mapped[ItemStatus] = mapped_column(_enum(ItemStatus), default=ItemStatus.pending)
    started_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()
    added_live: Mapped[bool] = mapped_column(Boolean, default=False)


class MeetingDocument(Base):
    __tablename__ = "meeting_documents"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_agenda_items.id", ondelete="SET NULL"))
    title: Mapped[str] = mapped_column(String(500))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    sha256: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    restricted: Mapped[bool] = mapped_column(Boolean, default=False, doc="only the listed viewers see it")
    kind: Mapped[str] = mapped_column(String(16), default="material", doc="material | invitation")
    uploaded_by: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    uploaded_at: Mapped[datetime] = mapped_column(default=utcnow)


class MeetingDocumentViewer(Base):
    __tablename__ = "meeting_document_viewers"
    __table_args__ = (UniqueConstraint("document_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("meeting_documents.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))


class SpeakerRequest(Base):
    __tablename__ = "meeting_speakers"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_agenda_items.id", ondelete="SET NULL"))
    note: Mapped[str] = mapped_column(String(500), default="")
    status: Mapped[SpeakerStatus] = mapped_column(_enum(SpeakerStatus), default=SpeakerStatus.waiting)
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    granted_at: Mapped[datetime | None] = mapped_column()
    ended_at: Mapped[datetime | None] = mapped_column()


class Poll(Base):
    __tablename__ = "meeting_polls"

    id: Mapped[int] = mapped_column(primary_key=True)
    meeting_id: Mapped[int] = mapped_column(ForeignKey("meetings.id", ondelete="CASCADE"), index=True)
    agenda_item_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_agenda_items.id", ondelete="SET NULL"))
    question: Mapped[str] = mapped_column(String(1000))
    visibility: Mapped[PollVisibility] = mapped_column(_enum(PollVisibility))
    threshold: Mapped[Threshold] = mapped_column(_enum(Threshold, 32))
    allow_change: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[PollStatus] = mapped_column(_enum(PollStatus), default=PollStatus.open)
    opened_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_at: Mapped[datetime | None] = mapped_column()
    present_at_close: Mapped[int | None] = mapped_column(Integer)
    members_at_close: Mapped[int | None] = mapped_column(Integer)
    voted_at_close: Mapped[int | None] = mapped_column(Integer)
    passed: Mapped[bool | None] = mapped_column(Boolean)
    winner_option_id: Mapped[int | None] = mapped_column(Integer)
    # Quorum when the vote opened; a reason only when the chair opened it without quorum.
    present_at_open: Mapped[int | None] = mapped_column(Integer)
    members_at_open: Mapped[int | None] = mapped_column(Integer)
    override_reason: Mapped[str | None] = mapped_column(Text)

    options: Mapped[list[PollOption]] = relationship(order_by="PollOption.position", viewonly=True)


class PollOption(Base):
    __tablename__ = "meeting_poll_options"
    __table_args__ = (UniqueConstraint("poll_id", "position"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("meeting_polls.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer)
    label: Mapped[str] = mapped_column(String(255))
    key: Mapped[str] = mapped_column(String(16), default="", doc="yes | no | abstain for the standard options")
    votes: Mapped[int] = mapped_column(Integer, default=0)


class PollVoter(Base):
    """That a person voted (once: the unique constraint). `option_id` is NULL in secret polls."""

    __tablename__ = "meeting_poll_voters"
    __table_args__ = (UniqueConstraint("poll_id", "user_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    poll_id: Mapped[int] = mapped_column(ForeignKey("meeting_polls.id", ondelete="CASCADE"), index=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    option_id: Mapped[int | None] = mapped_column(ForeignKey("meeting_poll_options.id", ondelete="CASCADE"))
