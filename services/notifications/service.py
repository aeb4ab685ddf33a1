"""`notify` is the one notification sender: a row per person, a live badge event, e-mail queued."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Select, func, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.db import utcnow
from services.directory.models import User
from services.errors import NotFound
from services.events.service import publish
from services.i18n import DEFAULT_LOCALE, Message, _l, render
from services.notifications.models import Notification


def user_channel(user_id: int) -> str:
    return f"user-{user_id}"


async def notify(
    session: AsyncSession,
    *,
    user_ids: Iterable[int],
    kind: str,
    title: Message | str,
    body: Message | str = "",
    link: str | None = None,
    dedupe_key: str | None = None,
    email: bool = True,
) -> list[Notification]:
    """Notify people in the caller's transaction.

    `dedupe_key` (e.g. "incoming-12-reminder-2026-01-05") makes a retried activity harmless:
    a person gets each keyed notification once. `title` and `body` are `_l(...)` messages,
    rendered in each recipient's language where they are shown (the list, the badge, the e-mail).
    """
    stored = {part: text.to_json() for part, text in (("title", title), ("body", body)) if isinstance(text, Message)}
    message = json.dumps(stored, ensure_ascii=False) if stored else None
    created = []
    for user_id in sorted(set(user_ids)):
        key = f"{dedupe_key}:{user_id}" if dedupe_key else None
        if key and await session.scalar(select(Notification.id).where(Notification.dedupe_key == key)):
            continue
        address, language = (await session.execute(select(User.email, User.language).where(User.id == user_id))).one()
        has_email = email and bool(address)
        note = Notification(
            user_id=user_id,
            kind=kind,
            title=render(title, DEFAULT_LOCALE)[:500],
            body=render(body, DEFAULT_LOCALE),
            message=message,
            link=link,
            dedupe_key=key,
            email_state="pending" if has_email else "none",
        )
        session.add(note)
        await session.flush()
        unread = await unread_count(session, user_id=user_id)
        await publish(
            session,
            channel=user_channel(user_id),
            kind="notification",
            payload={"id": note.id, "title": note.text("title", language), "link": link, "unread": unread},
        )
        created.append(note)
    return created


def unread_query(user_id: int) -> Select[int]:
    """How many notifications the person has not read (the badge reads it with the others)."""
    return select(func.count()).select_from(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))


async def unread_count(session: AsyncSession, *, user_id: int) -> int:
    return await session.scalar(unread_query(user_id)) or 0


async def list_for(
    session: AsyncSession, *, user_id: int, limit: int = 50, before_id: int | None = None, unread_only: bool = False
) -> list[Notification]:
    """The person's notifications, newest first; `before_id` continues a list page by page."""
    query = select(Notification).where(Notification.user_id == user_id)
    if before_id is not None:
        query = query.where(Notification.id < before_id)
    if unread_only:
        query = query.where(Notification.read_at.is_(None))
    return list((await session.scalars(query.order_by(Notification.id.desc()).limit(limit))).all())


async def get_for(session: AsyncSession, *, user_id: int, notification_id: int) -> Notification:
    """One of the person's notifications; NotFound for anyone else's."""
    found = await session.scalar(
        select(Notification)
        .where(Notification.id == notification_id, Notification.user_id == user_id)
        .execution_options(populate_existing=True)
    )
    if found is None:
        raise NotFound(_l("notification not found"))
    return found


async def mark_read(session: AsyncSession, *, user_id: int, notification_id: int | None = None) -> None:
    query = update(Notification).where(Notification.user_id == user_id, Notification.read_at.is_(None))
    if notification_id is not None:
        query = query.where(Notification.id == notification_id)
    await session.execute(query.values(read_at=utcnow()))
    await publish(
        session, channel=user_channel(user_id), kind="notification.read", payload={"unread": await unread_count(session, user_id=user_id)}
    )
