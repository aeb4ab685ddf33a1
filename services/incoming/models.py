"""Tables of incoming documents: the document, its files, handling assignments, notes, and
the statuses reported back to a sender organisation in the system."""

from __future__ import annotations

import enum
from datetime import date, datetime

from sqlalchemy import Boolean, Date, Float, ForeignKey, Index, Integer, String, Text, UniqueConstraint, event, inspect, text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services import textsearch
from services.db import Base, utcnow


class Status(str, enum.Enum):
    arrived = "arrived"  # from another organisation in the system, waiting to be registered
    awaiting_direction = "awaiting_direction"
    returned = "returned"  # returned to the clerk (or by the handler), with a reason
    directed = "directed"
    in_progress = "in_progress"
    done = "done"
    no_direction = "no_direction"  # the leader decided no handling is needed: filed
    rejected = "rejected"  # returned to the sender, with a reason


OPEN_HANDLING = (Status.directed.value, Status.in_progress.value)
CLOSED = (Status.done.value, Status.no_direction.value, Status.rejected.value)

URGENCY = ("normal", "urgent", "very_urgent", "flash")  # Thường, Khẩn, Thượng khẩn, Hỏa tốc
SECRECY = ("normal", "secret", "top_secret", "absolute")  # Thường, Mật, Tối mật, Tuyệt mật
DOC_TYPES = (
    "CV",
    "NQ",
    "QĐ",
    "CT",
    "QC",
    "QyĐ",
    "TC",
    "TB",
    "HD",
    "CTr",
    "KH",
    "PA",
    "ĐA",
    "DA",
    "BC",
    "BB",
    "TTr",
    "HĐ",
    "CĐ",
    "BGN",
    "BTT",
    "GUQ",
    "GM",
    "GGT",
    "GNP",
    "PG",
    "PC",
    "PB",
    "SY",
    "TrS",
    "SL",
)

# Status codes reported to the sender (edXML): 01 arrived … 06 done.
SENDER_CODES = ("01", "02", "03", "04", "05", "06")


class IncomingDocument(Base):
    __tablename__ = "incoming_documents"
    __table_args__ = (
        UniqueConstraint("organization_id", "arrival_year", "arrival_series", "arrival_number", name="uq_incoming_documents_arrival"),
        UniqueConstraint("organization_id", "outgoing_ref"),
        Index("ix_incoming_documents_org_status", "organization_id", "status"),
        Index("ix_incoming_documents_dup", "organization_id", "number_notation", "document_date"),
        # The lists at scale (migration 0025): open queues and badges, done lists, arrival periods.
        Index("ix_incoming_documents_status", "status"),
        Index("ix_incoming_documents_org_completed", "organization_id", "completed_at"),
        Index("ix_incoming_documents_lead_completed", "lead_user_id", "completed_at"),
        Index("ix_incoming_documents_arrival_date", "arrival_date"),
        # The documents the statistics count one by one: all but the finished ones in the roll-up.
        Index(
            "ix_incoming_documents_untallied",
            "organization_id",
            "arrival_date",
            postgresql_where=text("tally_day IS NULL"),
            sqlite_where=text("tally_day IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    status: Mapped[str] = mapped_column(String(24))
    source: Mapped[str] = mapped_column(String(16), default="manual")  # manual | system
    arrival_number: Mapped[int | None] = mapped_column(Integer)
    arrival_series: Mapped[str] = mapped_column(String(16), default="chung")
    arrival_year: Mapped[int | None] = mapped_column(Integer)
    arrival_date: Mapped[date | None] = mapped_column(Date)
    issuer_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    issuer_name: Mapped[str] = mapped_column(String(255))
    number_notation: Mapped[str] = mapped_column(String(64))
    document_date: Mapped[date | None] = mapped_column(Date)
    doc_type: Mapped[str] = mapped_column(String(8))
    subject: Mapped[str] = mapped_column(Text)
    urgency: Mapped[str] = mapped_column(String(16), default="normal")
    secrecy: Mapped[str] = mapped_column(String(16), default="normal")
    doc_due_date: Mapped[date | None] = mapped_column(Date)
    receiving_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    signer_name: Mapped[str | None] = mapped_column(String(255))
    outgoing_ref: Mapped[str | None] = mapped_column(String(128))
    sender_org_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"))
    registered_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    registered_at: Mapped[datetime | None] = mapped_column()
    directed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    directed_at: Mapped[datetime | None] = mapped_column()
    instruction: Mapped[str | None] = mapped_column(Text)
    lead_user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    lead_unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    due_date: Mapped[date | None] = mapped_column(Date)
    started_at: Mapped[datetime | None] = mapped_column()
    completed_at: Mapped[datetime | None] = mapped_column()
    result: Mapped[str | None] = mapped_column(Text)
    return_reason: Mapped[str | None] = mapped_column(Text)
    returned_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    # The outgoing document (of this organisation) that answers this one, linked by the handler.
    reply_outgoing_id: Mapped[int | None] = mapped_column(Integer, index=True)
    revision: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Number/notation, subject and issuer as folded words, for the word index (services.textsearch).
    search_text: Mapped[str] = mapped_column(Text, default="")
    # What this document adds to the statistics' roll-up (IncomingTally, services.incoming.tally):
    # set while it is finished and counted there, NULL otherwise (then it is counted row by row).
    tally_day: Mapped[date | None] = mapped_column(Date)
    tally_unit: Mapped[int | None] = mapped_column(Integer)  # 0: no unit
    tally_late: Mapped[bool | None] = mapped_column(Boolean)
    tally_days: Mapped[float | None] = mapped_column(Float)

    files: Mapped[list[IncomingFile]] = relationship(
        back_populates="document", order_by="IncomingFile.position", cascade="all, delete-orphan"
    )
    assignments: Mapped[list[IncomingAssignment]] = relationship(
        back_populates="document", order_by="IncomingAssignment.id", cascade="all, delete-orphan"
    )
    notes: Mapped[list[IncomingNote]] = relationship(back_populates="document", order_by="IncomingNote.id", cascade="all, delete-orphan")

    @property
    def arrival_label(self) -> str:
        if self.arrival_number is None:
            return ""
        suffix = "/M" if self.arrival_series == "mat" else ""
        return f"{self.arrival_number:02d}{suffix}"


class IncomingFile(Base):
    __tablename__ = "incoming_files"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("incoming_documents.id", ondelete="CASCADE"), index=True)
    position: Mapped[int] = mapped_column(Integer, default=0)
    is_main: Mapped[bool] = mapped_column(Boolean, default=False)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(Integer)
    sha256: Mapped[str] = mapped_column(String(64))
    validation: Mapped[str | None] = mapped_column(Text)  # signing.validation.ValidationReport JSON
    signatures_ok: Mapped[bool | None] = mapped_column(Boolean)

    document: Mapped[IncomingDocument] = relationship(back_populates="files")


class IncomingAssignment(Base):
    """Who handles a document: the lead (history kept inactive), co-handlers, for information."""

    __tablename__ = "incoming_assignments"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("incoming_documents.id", ondelete="CASCADE"), index=True)
    role: Mapped[str] = mapped_column(String(8))  # lead | co | info
    user_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))

    document: Mapped[IncomingDocument] = relationship(back_populates="assignments")


class IncomingNote(Base):
    """Progress, opinions, results, returns and extensions written on a document."""

    __tablename__ = "incoming_notes"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("incoming_documents.id", ondelete="CASCADE"), index=True)
    kind: Mapped[str] = mapped_column(String(16))
    author_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    author_name: Mapped[str | None] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)

    document: Mapped[IncomingDocument] = relationship(back_populates="notes")


class IncomingSenderStatus(Base):
    """A status reported back to the sender organisation (01 arrived … 06 done), once per code."""

    __tablename__ = "incoming_sender_statuses"
    __table_args__ = (UniqueConstraint("document_id", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("incoming_documents.id", ondelete="CASCADE"))
    outgoing_ref: Mapped[str] = mapped_column(String(128), index=True)
    sender_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    recipient_org_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"))
    code: Mapped[str] = mapped_column(String(2))
    note: Mapped[str | None] = mapped_column(Text)
    at: Mapped[datetime] = mapped_column(default=utcnow)


SEARCHED = ("number_notation", "subject", "issuer_name")


class IncomingTally(Base):
    """The finished documents of an organisation that arrived on one day, per lead unit: on time,
    late, and the days they took. A roll-up kept by services.incoming.tally in the transaction that
    changes a document, so a year's statistics read a few thousand rows, not every document."""

    __tablename__ = "incoming_tallies"

    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), primary_key=True)
    day: Mapped[date] = mapped_column(Date, primary_key=True)  # the arrival date
    unit_id: Mapped[int] = mapped_column(Integer, primary_key=True)  # 0: no unit
    on_time: Mapped[int] = mapped_column(Integer, default=0)
    late: Mapped[int] = mapped_column(Integer, default=0)
    days_total: Mapped[float] = mapped_column(Float, default=0.0)


@event.listens_for(IncomingDocument, "before_insert")
@event.listens_for(IncomingDocument, "before_update")
def _index_words(_mapper, _connection, doc: IncomingDocument) -> None:
    # Here rather than in each service function, so that no write path can leave the index stale.
    state = inspect(doc)
    if state.pending or any(state.attrs[name].history.has_changes() for name in SEARCHED):
        doc.search_text = textsearch.index_text(*(getattr(doc, name) for name in SEARCHED))
