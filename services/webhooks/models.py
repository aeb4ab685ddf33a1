"""Webhook subscriptions of an organisation, the deliveries of its events and every attempt.

A delivery row is written in the transaction of the change that caused the event (like the
outbox's commands): committed with it or rolled back with it. The deliverer in the worker
claims due rows, POSTs them and records each attempt.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, ForeignKey, Index, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column, relationship

from services.db import Base


class WebhookSubscription(Base):
    __tablename__ = "webhook_subscriptions"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    organization_id: Mapped[int] = mapped_column(ForeignKey("organizations.id"), index=True)
    url: Mapped[str] = mapped_column(String(2000))
    events: Mapped[str] = mapped_column(Text)  # the event types, space-separated
    description: Mapped[str] = mapped_column(String(200), default="")
    # Kept so deliveries can be signed; shown once at creation, never logged nor answered again.
    secret: Mapped[str] = mapped_column(String(128))
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column()
    created_by_id: Mapped[int | None] = mapped_column(ForeignKey("users.id"), default=None)

    @property
    def event_types(self) -> list[str]:
        return self.events.split()


class WebhookDelivery(Base):
    """One event for one subscription: pending until delivered, or failed after the last attempt."""

    __tablename__ = "webhook_deliveries"
    __table_args__ = (
        Index("ix_webhook_deliveries_pending", "status", "due_at"),
        Index("ix_webhook_deliveries_subscription", "subscription_id", "id"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    subscription_id: Mapped[int] = mapped_column(ForeignKey("webhook_subscriptions.id", ondelete="CASCADE"))
    event_id: Mapped[str] = mapped_column(String(40))  # the same for every subscription and every retry of one event
    event_type: Mapped[str] = mapped_column(String(64))
    # The event as JSON, its object's page as a path: the deliverer writes the absolute URL.
    payload: Mapped[str] = mapped_column(Text)
    status: Mapped[str] = mapped_column(String(16), default="pending")  # pending, delivered, failed
    created_at: Mapped[datetime] = mapped_column()
    due_at: Mapped[datetime] = mapped_column()  # next attempt; while an attempt runs, the end of its lease
    attempts: Mapped[int] = mapped_column(Integer, default=0)  # since it was (re)queued
    delivered_at: Mapped[datetime | None] = mapped_column(default=None)
    last_status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    last_error: Mapped[str | None] = mapped_column(Text, default=None)

    attempt_rows: Mapped[list[WebhookAttempt]] = relationship(order_by="WebhookAttempt.id", lazy="raise", viewonly=True)


class WebhookAttempt(Base):
    __tablename__ = "webhook_attempts"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    delivery_id: Mapped[int] = mapped_column(ForeignKey("webhook_deliveries.id", ondelete="CASCADE"), index=True)
    at: Mapped[datetime] = mapped_column()
    status_code: Mapped[int | None] = mapped_column(Integer, default=None)
    error: Mapped[str | None] = mapped_column(Text, default=None)
    duration_ms: Mapped[int] = mapped_column(Integer, default=0)
