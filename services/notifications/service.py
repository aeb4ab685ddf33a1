"""`notify` is the one notification sender: a row per person, a live badge event, e-mail queued."""

from __future__ import annotations

import json
from collections.abc import Iterable

from sqlalchemy import Select, func, select, update
from sqlalchemy.exc import NoResultFound
from sqlalchemy.ext.asyncio import AsyncSession

from services.db import utcnow
from services.directory.models import User
from services.errors import NotFound
from services.events.service import publish, user_channel
from services.i18n import DEFAULT_LOCALE, Message, _l, render
from services.notifications.models import Notification


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
    people = sorted(set(user_ids))
    keys = {user_id: f"{dedupe_key}:{user_id}" for user_id in people} if dedupe_key else {}
    if keys:
        told = set((await session.scalars(select(Notification.dedupe_key).where(Notification.dedupe_key.in_(keys.values())))).all())
        people = [user_id for user_id in people if keys[user_id] not in told]
    if not people:
        return []
    # A few statements per call, not per person: a report request told to a thousand communes calls
    # this once for each, with their clerk, leaders and officers (bench/bench_fanout.py).
    found = {row.id: row for row in (await session.execute(select(User.id, User.email, User.language).where(User.id.in_(people)))).all()}
    if len(found) != len(people):
        raise NoResultFound(f"no user {sorted(set(people) - set(found))}")
    created = []
    for user_id in people:
        note = Notification(
            user_id=user_id,
            kind=kind,
            title=render(title, DEFAULT_LOCALE)[:500],
            body=render(body, DEFAULT_LOCALE),
            message=message,
            link=link,
            dedupe_key=keys.get(user_id),
            email_state="pending" if email and found[user_id].email else "none",
        )
        session.add(note)
        created.append(note)
    await session.flush()
    unread = dict(
        (
            await session.execute(
                select(Notification.user_id, func.count())
                .where(Notification.user_id.in_(people), Notification.read_at.is_(None))
                .group_by(Notification.user_id)
            )
        ).all()
    )
    for note in created:
        await publish(
            session,
            channel=user_channel(note.user_id),
            kind="notification",
            payload={
                "id": note.id,
                "title": note.text("title", found[note.user_id].language),
                "link": link,
                "unread": unread.get(note.user_id, 0),
            },
        )
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
