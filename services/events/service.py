"""Publishing and reading events. `publish` is the one way anything emits a live event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any, cast

from sqlalchemy import Table, bindparam, func, insert, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Session

from services import appends
from services.db import Reader, utcnow
from services.events.models import Event, EventHead


@dataclass(frozen=True)
class EventOut:
    seq: int
    channel: str
    kind: str
    payload: dict[str, Any]

    def as_message(self) -> dict[str, Any]:
        return {"seq": self.seq, "channel": self.channel, "kind": self.kind, "data": self.payload}

    @cached_property
    def text(self) -> str:
        """The message as sent on the live channel: encoded once, however many clients get it."""
        return json.dumps(self.as_message(), ensure_ascii=False)

    @cached_property
    def data(self) -> bytes:
        """The message as UTF-8, for the sockets the hub writes to directly: encoded once too."""
        return self.text.encode()


NOTIFY_CHANNEL = "lienthong_events"


def _out(event: Event) -> EventOut:
    return EventOut(seq=event.seq, channel=event.channel, kind=event.kind, payload=json.loads(event.payload))


async def publish(session: AsyncSession, *, channel: str, kind: str, payload: dict[str, Any]) -> None:
    """Append an event with the caller's transaction: it is numbered and written when the
    transaction commits (services/appends.py), never for a rollback."""
    await appends.append(session, "events", (channel, kind, json.dumps(payload, ensure_ascii=False)))


# On a user's channel: what the user may read has changed (signed out, a role or a meeting taken
# away). Every live socket of the user is closed at this event and reconnects, so that its channels
# are decided again on the user's current rights (services/events/hub.py).
ACCESS_CHANGED = "access.changed"


async def access_changed(session: AsyncSession, *user_ids: int) -> None:
    """What these users may read changes with the caller's transaction: at its commit, their live
    sockets are closed and asked to reconnect (one event per person, in order of id)."""
    for user_id in sorted(set(user_ids)):
        await publish(session, channel=user_channel(user_id), kind=ACCESS_CHANGED, payload={})


def user_channel(user_id: int) -> str:
    """The user's own channel: notices to them, and their access changes. Every live socket follows it."""
    return f"user-{user_id}"


_HEAD = cast(Table, EventHead.__table__)
_TAKE_HEAD = update(_HEAD).where(_HEAD.c.id == 1).values(seq=_HEAD.c.seq + bindparam("n")).returning(_HEAD.c.seq)
_INSERT_EVENTS = insert(cast(Table, Event.__table__))
_NOTIFY = text(f"NOTIFY {NOTIFY_CHANNEL}")


@appends.writer("events")
def _write_events(session: Session, events: list[tuple[str, str, str]]) -> None:
    """The transaction's events at its commit. The head row's lock is held until the commit
    ends, so events become visible in sequence order and a reader polling `seq > last` never
    skips one."""
    last = session.execute(_TAKE_HEAD, {"n": len(events)}).scalar_one()
    at = utcnow()
    rows = [
        {"seq": seq, "channel": channel, "kind": kind, "payload": payload, "at": at}
        for seq, (channel, kind, payload) in enumerate(events, start=last - len(events) + 1)
    ]
    session.execute(_INSERT_EVENTS, rows)
    session.info["published_events"] = True  # this process's hubs are poked after the commit (hub.py)
    if session.get_bind().dialect.name == "postgresql":
        # Delivered at commit to every process's hub: they read the table at once instead of at
        # their next poll.
        session.execute(_NOTIFY)


async def since(session: AsyncSession, *, after: int, channels: set[str] | None = None, limit: int = 1000) -> list[EventOut]:
    query = select(Event).where(Event.seq > after).order_by(Event.seq).limit(limit)
    if channels is not None:
        query = query.where(Event.channel.in_(channels))
    return [_out(e) for e in (await session.scalars(query)).all()]


async def last_seq(reader: Reader) -> int:
    return await reader.scalar(select(func.max(Event.seq))) or 0
