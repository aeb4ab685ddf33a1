"""Tables of outgoing documents (văn bản đi): the document, its versions, attachments,
reviews and recipients.

Numbers are unique per organisation, series and year (the database refuses a duplicate even
if the register counter were bypassed); a recipient in the system appears once per document.
"""

from __future__ import annotations

import datetime as dt
import enum
from datetime import datetime
from typing import cast

from sqlalchemy import Date, Enum, ForeignKey, Integer, String, Table, Text, UniqueConstraint, event, inspect, select, update
from sqlalchemy.orm import Mapped, mapped_column

from services import textsearch
from services.db import Base, utcnow


class Status(str, enum.Enum):
    draft = "draft"
    in_review = "in_review"
    returned = "returned"
    awaiting_signature = "awaiting_signature"
    signed = "signed"
    issued = "issued"
    cancelled = "cancelled"
    recalled = "recalled"
    replaced = "replaced"


class Urgency(str, enum.Enum):
    normal = "normal"  # Thường
    urgent = "urgent"  # Khẩn
    very_urgent = "very_urgent"  # Thượng khẩn
    flash = "flash"  # Hỏa tốc


class Secrecy(str, enum.Enum):
    normal = "normal"  # Thường
    secret = "secret"  # Mật
    top_secret = "top_secret"  # Tối mật
    absolute = "absolute"  # Tuyệt mật


class ReviewMode(str, enum.Enum):
    sequential = "sequential"
    parallel = "parallel"


class Decision(str, enum.Enum):
    pending = "pending"
    initialled = "initialled"
    commented = "commented"
    returned = "returned"
    skipped = "skipped"


def _enum(kind: type[enum.Enum], length: int = 24) -> Enum:
    return Enum(kind, native_enum=False, length=length)


class OutgoingDocument(Base):
    __tablename__ = "outgoing_documents"
    __table_args__ = (UniqueConstraint("organization_id", "series", "year", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    drafter_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    unit_id: Mapped[int | None] = mapped_column(ForeignKey("units.id"))
    doc_type: Mapped[str] = mapped_column(String(8))  # type code, or CV for a công văn
    subject: Mapped[str] = mapped_column(String(500))
    body: Mapped[str] = mapped_column(Text, default="")
    external_recipients: Mapped[str] = mapped_column(Text, default="")  # one outside body per line
    signer_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    authority_prefix: Mapped[str | None] = mapped_column(String(8))
    authority_line: Mapped[str | None] = mapped_column(String(128))
    urgency: Mapped[Urgency] = mapped_column(_enum(Urgency), default=Urgency.normal)
    secrecy: Mapped[Secrecy] = mapped_column(_enum(Secrecy), default=Secrecy.normal)
    due_date: Mapped[dt.date | None] = mapped_column(Date)  # recipients' handling deadline, if any
    status: Mapped[Status] = mapped_column(_enum(Status), default=Status.draft, index=True)
    review_round: Mapped[int] = mapped_column(Integer, default=0)
    review_mode: Mapped[ReviewMode] = mapped_column(_enum(ReviewMode), default=ReviewMode.sequential)
    # The final PDF with the number/date fields and the seal's empty field (before the leader signs).
    prepared_pdf_sha: Mapped[str | None] = mapped_column(String(64))
    prepared_version: Mapped[int | None] = mapped_column(Integer)
    leader_pdf_sha: Mapped[str | None] = mapped_column(String(64))
    signed_at: Mapped[datetime | None] = mapped_column()
    signed_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    sign_method: Mapped[str | None] = mapped_column(String(16))  # pin | upload
    # Set together, in the one transaction that issues the document.
    series: Mapped[str | None] = mapped_column(String(32))
    year: Mapped[int | None] = mapped_column(Integer)
    number: Mapped[int | None] = mapped_column(Integer)
    notation: Mapped[str | None] = mapped_column(String(64))
    issue_date: Mapped[dt.date | None] = mapped_column(Date)
    issued_at: Mapped[datetime | None] = mapped_column()
    issued_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"))
    issued_pdf_sha: Mapped[str | None] = mapped_column(String(64))
    validation_report: Mapped[str | None] = mapped_column(Text)  # JSON of the last validation
    closing_reason: Mapped[str | None] = mapped_column(Text)  # cancel / recall / replace reason
    closed_at: Mapped[datetime | None] = mapped_column()
    replaces_id: Mapped[int | None] = mapped_column(ForeignKey("outgoing_documents.id"))
    replaced_by_id: Mapped[int | None] = mapped_column(ForeignKey("outgoing_documents.id"))
    source_ref: Mapped[str | None] = mapped_column(String(128), unique=True)  # e.g. meeting-12-invitation
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Number/notation, subject and recipients as folded words, for the word index (services.textsearch).
    search_text: Mapped[str] = mapped_column(Text, default="")

    @property
    def is_secret(self) -> bool:
        return self.secrecy != Secrecy.normal


class OutgoingVersion(Base):
    __tablename__ = "outgoing_versions"
    __table_args__ = (UniqueConstraint("document_id", "number"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("outgoing_documents.id", ondelete="CASCADE"), index=True)
    number: Mapped[int] = mapped_column(Integer)
    source: Mapped[str] = mapped_column(String(16))  # template | upload
    filename: Mapped[str] = mapped_column(String(255))
    docx_sha: Mapped[str] = mapped_column(String(64))
    text: Mapped[str] = mapped_column(Text, default="")  # plain text, for comparing versions
    note: Mapped[str | None] = mapped_column(String(500))
    created_by_id: Mapped[int] = mapped_column(ForeignKey("users.id"))
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutgoingAttachment(Base):
    __tablename__ = "outgoing_attachments"

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("outgoing_documents.id", ondelete="CASCADE"), index=True)
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    sha: Mapped[str] = mapped_column(String(64))
    size: Mapped[int] = mapped_column(Integer)
    sealed_sha: Mapped[str | None] = mapped_column(String(64))  # PDF attachments get the text seal at issue
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutgoingReview(Base):
    __tablename__ = "outgoing_reviews"
    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("outgoing_documents.id", ondelete="CASCADE"), index=True)
    round: Mapped[int] = mapped_column(Integer)
    position: Mapped[int] = mapped_column(Integer)  # order in a sequential review
    reviewer_id: Mapped[int] = mapped_column(ForeignKey("users.id"), index=True)
    due_at: Mapped[datetime | None] = mapped_column()
    decision: Mapped[Decision] = mapped_column(_enum(Decision), default=Decision.pending)
    comment: Mapped[str | None] = mapped_column(Text)
    version_number: Mapped[int | None] = mapped_column(Integer)
    decided_at: Mapped[datetime | None] = mapped_column()


class OutgoingRecipient(Base):
    __tablename__ = "outgoing_recipients"
    __table_args__ = (UniqueConstraint("document_id", "organization_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    document_id: Mapped[int] = mapped_column(ForeignKey("outgoing_documents.id", ondelete="CASCADE"), index=True)
    organization_id: Mapped[int | None] = mapped_column(ForeignKey("organizations.id"), index=True)
    name: Mapped[str] = mapped_column(String(255))
    external: Mapped[bool] = mapped_column(default=False)
    delivered_at: Mapped[datetime | None] = mapped_column()
    incoming_id: Mapped[int | None] = mapped_column(Integer)  # the recipient's incoming document
    status_code: Mapped[str | None] = mapped_column(String(4))  # edXML status 01…16 as last seen
    status_at: Mapped[datetime | None] = mapped_column()
    notice: Mapped[str | None] = mapped_column(String(16))  # recall | replace, once notified
    notice_at: Mapped[datetime | None] = mapped_column()


# The word index is kept here rather than in each service function, so that no write path can
# leave it stale: a document's own fields when it is written, its recipients when they are.


def _recipient_names(connection, document_id: int | None) -> list[str]:
    if document_id is None:
        return []
    return list(
        connection.scalars(
            select(OutgoingRecipient.name).where(OutgoingRecipient.document_id == document_id).order_by(OutgoingRecipient.id)
        )
    )


@event.listens_for(OutgoingDocument, "before_insert")
@event.listens_for(OutgoingDocument, "before_update")
def _index_words(_mapper, connection, doc: OutgoingDocument) -> None:
    state = inspect(doc)
    if state.pending or any(state.attrs[name].history.has_changes() for name in ("notation", "subject")):
        doc.search_text = textsearch.index_text(doc.notation, doc.subject, *_recipient_names(connection, doc.id))


@event.listens_for(OutgoingRecipient, "after_insert")
@event.listens_for(OutgoingRecipient, "after_delete")
def _index_recipients(_mapper, connection, row: OutgoingRecipient) -> None:
    table = cast(Table, OutgoingDocument.__table__)  # declared a FromClause; a Table at run time
    found = connection.execute(select(table.c.notation, table.c.subject).where(table.c.id == row.document_id)).first()
    if found is not None:
        connection.execute(
            update(table)
            .where(table.c.id == row.document_id)
            .values(search_text=textsearch.index_text(found.notation, found.subject, *_recipient_names(connection, row.document_id)))
        )


@event.listens_for(OutgoingRecipient, "after_update")
def _index_renamed_recipient(mapper, connection, row: OutgoingRecipient) -> None:
    if inspect(row).attrs.name.history.has_changes():  # not on delivery and status updates
        _index_recipients(mapper, connection, row)
