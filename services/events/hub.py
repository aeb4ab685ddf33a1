"""Fans events out to the live clients of one process.

The hub follows the events table (`seq > last`), woken at once by commits in this process
and every `poll_seconds` for commits made elsewhere (the worker, other web processes).
Each subscriber has a bounded queue: a slow client is dropped and must resync from its last
sequence number, so it never slows the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from services.db import Database, is_unreachable_error
from services.events import service as events
from services.events.service import EventOut

log = logging.getLogger(__name__)


@dataclass(eq=False)
class Subscription:
    channels: set[str]
    queue: asyncio.Queue[EventOut | None] = field(default_factory=lambda: asyncio.Queue(maxsize=256))
    overflowed: bool = False
    gone: bool = False  # the client went away (its reader saw the socket close)
    floor: int = 0  # the client has everything up to here (its snapshot): never sent again


class EventHub:
    def __init__(self, database: Database, *, poll_seconds: float = 0.5) -> None:
        self.database = database
        self.poll_seconds = poll_seconds
        self.subscriptions: set[Subscription] = set()
        self.last_seq = 0
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        async with self.database.read() as session:
            self.last_seq = await events.last_seq(session)
        self._task = asyncio.create_task(self._run(), name="event-hub")

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
        for sub in list(self.subscriptions):
            self._close(sub)

    def poke(self) -> None:
        """Something was committed in this process: look now rather than at the next poll."""
        self._wake.set()

    async def _run(self) -> None:
        while True:
            try:
                await asyncio.wait_for(self._wake.wait(), timeout=self.poll_seconds)
            except TimeoutError:
                pass
            self._wake.clear()
            try:
                await self._fetch()
            except Exception as exc:  # a database hiccup must not kill live updates
                if is_unreachable_error(exc):  # a restart: one line each poll, not a traceback
                    log.warning("event hub: database unreachable (%r); trying again", exc)
                else:
                    log.exception("event hub poll failed")

    async def _fetch(self) -> None:
        while True:
            async with self.database.read() as session:
                batch = await events.since(session, after=self.last_seq, limit=500)
            if not batch:
                return
            for event in batch:
                self._dispatch(event)
                self.last_seq = event.seq

    def _dispatch(self, event: EventOut) -> None:
        for sub in list(self.subscriptions):
            if event.channel not in sub.channels or event.seq <= sub.floor:
                continue
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                sub.overflowed = True
                self._close(sub)

    def _close(self, sub: Subscription) -> None:
        self.subscriptions.discard(sub)
        with contextlib.suppress(asyncio.QueueFull):
            sub.queue.put_nowait(None)

    @contextlib.asynccontextmanager
    async def subscribe(self, channels: set[str], *, after: int | None = None) -> AsyncIterator[Subscription]:
        """Subscribe; events after `after` already in the table are replayed first, in order."""
        sub = Subscription(channels=set(channels), floor=after or 0)
        self.subscriptions.add(sub)
        try:
            # A client at the hub's head has nothing to replay: every later event reaches it live
            # (no await between joining and this check), so no query.
            if after is not None and after < self.last_seq:
                async with self.database.read() as session:
                    missed = await events.since(session, after=after, channels=sub.channels, limit=5000)
                # Live events may already be queued: drop duplicates by sequence number.
                replay_until = missed[-1].seq if missed else after
                pending: list[EventOut] = []
                while not sub.queue.empty():
                    item = sub.queue.get_nowait()
                    if item is not None and item.seq > replay_until:
                        pending.append(item)
                for item in [*missed, *pending]:
                    sub.queue.put_nowait(item)
            yield sub
        finally:
            self.subscriptions.discard(sub)


_HUBS: set[EventHub] = set()


def register(hub: EventHub) -> None:
    _HUBS.add(hub)


def unregister(hub: EventHub) -> None:
    _HUBS.discard(hub)


def _after_commit(session) -> None:
    if session.info.pop("published_events", False):
        for hub in list(_HUBS):
            hub.poke()


def _install() -> None:
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    event.listen(Session, "after_commit", _after_commit)


_install()
