"""Outbox rows: one command for a workflow each, delivered at least once, in order per workflow."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from services.db import Base


class OutboxCommand(Base):
    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_pending", "delivered_at", "due_at"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    # What to tell: the workflow kind ("incoming", "meeting"…), the business object, a signal
    # name (None: just make sure the workflow runs) and its JSON arguments.
    kind: Mapped[str] = mapped_column(String(32))
    object_id: Mapped[int] = mapped_column(Integer)
    signal: Mapped[str | None] = mapped_column(String(64))
    args: Mapped[str] = mapped_column(Text, default="[]")
    created_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)


class Deployment(Base):
    """This database's identity: the prefix of every workflow ID it starts, made at migration
    time, so a fresh database beside a Temporal server that served an older one never reuses
    (and signals) that one's workflows."""

    __tablename__ = "deployment"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    workflow_prefix: Mapped[str] = mapped_column(String(32))
