"""The notices the deadline ladder sent: one row per object, rung and due instant."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base, utcnow


class DeadlineNotice(Base):
    """A rung's notice was sent for this due instant; a moved due instant has no row yet, so it
    arms every rung again. The unique constraint makes a retried or concurrent send harmless."""

    __tablename__ = "deadline_notices"
    __table_args__ = (UniqueConstraint("object_kind", "object_id", "step", "due_at"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    object_kind: Mapped[str] = mapped_column(String(32))  # incoming | task | report_target | minutes.<role>
    object_id: Mapped[int] = mapped_column(Integer)
    step: Mapped[str] = mapped_column(String(32))  # reminder | overdue | escalation
    due_at: Mapped[datetime] = mapped_column()
    sent_at: Mapped[datetime] = mapped_column(default=utcnow)
