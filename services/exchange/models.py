"""What goes out to a partner: an issued document's package or a status of a document it sent us."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base, utcnow


class ExchangeMessage(Base):
    __tablename__ = "exchange_messages"
    __table_args__ = (UniqueConstraint("kind", "document_id", "partner", "code"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))  # document (an outgoing document) | status (of an incoming one)
    document_id: Mapped[int] = mapped_column()  # outgoing_documents.id or incoming_documents.id, by kind
    partner: Mapped[str] = mapped_column(String(64))  # the partner's electronic identifier
    code: Mapped[str] = mapped_column(String(2), default="")  # status code; "" for a document
    note: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    delivered_at: Mapped[datetime | None] = mapped_column()
    destination: Mapped[str | None] = mapped_column(String(500))
