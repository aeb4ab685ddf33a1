"""Publishing and reading events. `publish` is the one way anything emits a live event."""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property
from typing import Any

from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncSession

from services.audit import heads
from services.db import utcnow
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


NOTIFY_CHANNEL = "lienthong_events"


def _out(event: Event) -> EventOut:
    return EventOut(seq=event.seq, channel=event.channel, kind=event.kind, payload=json.loads(event.payload))


async def publish(session: AsyncSession, *, channel: str, kind: str, payload: dict[str, Any]) -> int:
    """Append an event in the caller's transaction; returns its sequence number.

    The head row's lock is held until commit, so events become visible in sequence order
    and a reader polling `seq > last` never skips one.
    """
    await heads.audit_head_before_event_head(session)
    seq = (
        await session.execute(update(EventHead).where(EventHead.id == 1).values(seq=EventHead.seq + 1).returning(EventHead.seq))
    ).scalar_one()
    session.add(Event(seq=seq, channel=channel, kind=kind, payload=json.dumps(payload, ensure_ascii=False), at=utcnow()))
    if not session.info.get("published_events") and session.get_bind().dialect.name == "postgresql":
        # Delivered at commit (never for a rollback) to every process's hub: they read the
        # table at once instead of at their next poll. One per transaction is enough.
        await session.execute(text(f"NOTIFY {NOTIFY_CHANNEL}"))
    session.info["published_events"] = True
    return seq


async def since(session: AsyncSession, *, after: int, channels: set[str] | None = None, limit: int = 1000) -> list[EventOut]:
    query = select(Event).where(Event.seq > after).order_by(Event.seq).limit(limit)
    if channels is not None:
        query = query.where(Event.channel.in_(channels))
    return [_out(e) for e in (await session.scalars(query)).all()]


async def last_seq(session: AsyncSession) -> int:
    return await session.scalar(select(func.max(Event.seq))) or 0
