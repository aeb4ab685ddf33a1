"""Sends queued notification e-mails through the configured SMTP relay (outside transactions)."""

from __future__ import annotations

import asyncio
import logging
import smtplib
from email.message import EmailMessage

from sqlalchemy import select

from services.aio import wait_set
from services.config import Settings
from services.db import Database
from services.directory.models import User
from services.notifications.models import Notification

log = logging.getLogger(__name__)


def _send(settings: Settings, message: EmailMessage) -> None:
    assert settings.smtp_host, "send_pending returns first when no host is set"
    with smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=20) as smtp:
        if settings.smtp_starttls:
            smtp.starttls()
        if settings.smtp_user:
            smtp.login(settings.smtp_user, settings.smtp_password or "")
        smtp.send_message(message)


async def send_pending(database: Database, settings: Settings, *, batch: int = 50) -> int:
    """Send up to `batch` pending e-mails; returns how many were sent."""
    if not settings.smtp_host:
        return 0
    async with database.session() as session:
        rows = (
            await session.execute(
                select(Notification, User.email, User.full_name, User.language)
                .join(User, User.id == Notification.user_id)
                .where(Notification.email_state == "pending")
                .order_by(Notification.id)
                .limit(batch)
            )
        ).all()
    sent = 0
    for note, address, name, language in rows:
        # In the recipient's language, whoever caused the notification.
        title, body = note.text("title", language), note.text("body", language)
        message = EmailMessage()
        message["From"] = settings.smtp_from
        message["To"] = f"{name} <{address}>"
        message["Subject"] = f"[Liên Thông] {title}"
        link = f"{settings.base_url}{note.link}" if note.link else settings.base_url
        message.set_content(f"{title}\n\n{body}\n\n{link}\n")
        try:
            await asyncio.to_thread(_send, settings, message)
            state = "sent"
            sent += 1
        except (OSError, smtplib.SMTPException) as exc:
            log.warning("e-mail to user %s failed: %s", note.user_id, exc)
            state = "failed"
        async with database.session() as session:
            row = await session.get(Notification, note.id)
            if row is not None:
                row.email_state = state
    return sent


async def run_mailer(database: Database, settings: Settings, *, stop: asyncio.Event, every: float = 5.0) -> None:
    while not stop.is_set():
        try:
            await send_pending(database, settings)
        except Exception:  # keep the loop alive; the next round retries
            log.exception("mailer round failed")
        await wait_set(stop, every)
