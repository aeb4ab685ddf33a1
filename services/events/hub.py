"""Fans events out to the live clients of one process.

The hub follows the events table (`seq > last`), woken at once by commits in this process and,
on PostgreSQL, by the NOTIFY every commit that publishes sends (the worker, other web processes).
Polling every `poll_seconds` covers SQLite and a lost listening connection; while the hub listens
it polls only every `listening_poll_seconds`, as a fallback. A listener that reconnects reads the
table at once, so what was committed while it was away is caught up.
A client that keeps up is written to directly (`Subscription.direct`); otherwise each subscriber
has a bounded queue: a slow client is dropped and must resync from its last sequence number, so it
never slows the others. What a reconnecting client missed (up to the
live channel's replay limit, more than a queue holds) is kept apart and sent first.
A user's access change (`ACCESS_CHANGED` on their channel) ends every subscription of the user's
with `recheck`: the socket is closed and the page reconnects, and its channels are decided again.
So does the end of the session a subscription was admitted on (`join`'s `until`), at the hub's next
poll after it: the page's reconnect is refused and it says the session has ended.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
from collections import deque
from collections.abc import AsyncIterator, Callable
from datetime import datetime

from sqlalchemy.engine import make_url

from services.aio import wait_set
from services.db import Database, is_unreachable_error, utcnow
from services.events import service as events
from services.events.service import ACCESS_CHANGED, NOTIFY_CHANNEL, EventOut
from services.metrics import EVENTS_FANNED_OUT, EVENTS_READ, LIVE_CLIENTS_DROPPED

log = logging.getLogger(__name__)
QUEUE_SIZE = 256  # events a client may be behind before it is dropped (it resyncs)
DISPATCH_SLICE = 64  # events dispatched between two turns of the senders


class Subscription:
    """One client following some channels. Kept small: thousands are held at once, most of them
    written to directly (`direct`) and never needing a queue or a replay, which are made on first
    use (an asyncio.Queue alone is ~2.5 KB)."""

    __slots__ = ("_queue", "channels", "direct", "floor", "gone", "overflowed", "recheck", "replay", "until", "wake")

    def __init__(self, channels: set[str], *, floor: int = 0) -> None:
        self.channels = channels
        self.floor = floor  # the client has everything up to here (its snapshot): never sent again
        self.overflowed = False  # dropped for being too far behind: it must resync
        self.gone = False  # the client went away (its reader saw the socket close)
        # Ended by its user's access change: the client must reconnect to have its channels decided again.
        self.recheck = False
        self.until: datetime | None = None  # when the session it was admitted on ends
        # Missed before it subscribed, sent first (made by `subscribe` when there is any).
        self.replay: deque[EventOut] | None = None
        # Set while the client has nothing left to send (web/live.py, web/live_transport.py): the
        # hub writes to the socket itself; when that cannot take it now, the hub clears it and queues.
        self.direct: Callable[[bytes], bool] | None = None
        # Called when the hub ends the subscription, by a sender that does not wait on the queue
        # (web/live_transport.py): the None it finds there ends the connection.
        self.wake: Callable[[], None] | None = None
        self._queue: asyncio.Queue[EventOut | None] | None = None

    @property
    def queue(self) -> asyncio.Queue[EventOut | None]:
        """What waits to be sent, in order; None at the end when the client is dropped or the hub stops."""
        if self._queue is None:
            self._queue = asyncio.Queue(maxsize=QUEUE_SIZE)
        return self._queue

    @property
    def caught_up(self) -> bool:
        """Nothing waits to be sent and the client is still followed."""
        return not self.replay and (self._queue is None or self._queue.empty()) and not (self.gone or self.overflowed or self.recheck)

    async def next(self) -> EventOut | None:
        """The next event for the client, its replay first; None when it is dropped or gone."""
        if self.replay:
            return self.replay.popleft()
        return await self.queue.get()


class EventHub:
    def __init__(self, database: Database, *, poll_seconds: float = 0.5, listening_poll_seconds: float = 10.0) -> None:
        self.database = database
        self.poll_seconds = poll_seconds
        self.listening_poll_seconds = listening_poll_seconds
        # Followers by channel: an event costs the clients of its channel, not every client of the
        # process (a fan-out's notices to one user each, with thousands following a meeting).
        self._by_channel: dict[str, set[Subscription]] = {}
        # Followers by the end of their session, and those ends in order: one entry per session,
        # not per socket (a phone that reconnects all day adds nothing), kept until the end passes.
        self._ending: dict[datetime, set[Subscription]] = {}
        self._ends: list[datetime] = []
        self.last_seq = 0
        self.started = False  # last_seq holds the table's head as of the hub's last read
        self.listening = False  # a LISTEN connection is up (PostgreSQL)
        self.listens = 0  # how many times it was (re)established
        self._wake = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []

    async def start(self) -> None:
        async with self.database.read() as session:
            self.last_seq = await events.last_seq(session)
        self.started = True
        self._tasks.append(asyncio.create_task(self._run(), name="event-hub"))
        if not self.database.is_sqlite:
            self._tasks.append(asyncio.create_task(self._listen(), name="event-hub-listen"))

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks.clear()
        self.started = False
        for sub in list(self.subscriptions):
            self._close(sub)

    @property
    def subscriptions(self) -> set[Subscription]:
        """Every client the hub follows now."""
        return set().union(*self._by_channel.values())

    def poke(self) -> None:
        """Something was committed in this process: look now rather than at the next poll."""
        self._wake.set()

    async def _listen(self) -> None:
        """Keep one connection listening for commits elsewhere; reconnect when it is lost."""
        import asyncpg  # PostgreSQL only

        dsn = make_url(self.database.url).set(drivername="postgresql").render_as_string(hide_password=False)
        delay = 0.5
        while True:
            lost = asyncio.Event()
            connection = None
            try:
                connection = await asyncpg.connect(dsn, timeout=10)
                connection.add_termination_listener(lambda _c: lost.set())
                await connection.add_listener(NOTIFY_CHANNEL, lambda *_args: self.poke())
                self.listening, delay = True, 0.5
                self.listens += 1
                self.poke()  # catch up on what was committed while nobody listened
                await lost.wait()
                log.warning("event hub: listening connection lost; reconnecting")
            except Exception as exc:  # noqa: BLE001 - the poll covers us meanwhile; try again
                log.warning("event hub: cannot listen (%r); polling until it can", exc)
            finally:
                self.listening = False
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await asyncio.wait_for(connection.close(), timeout=2)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 10.0)

    async def _run(self) -> None:
        while True:
            await wait_set(self._wake, self.listening_poll_seconds if self.listening else self.poll_seconds)
            self._wake.clear()
            self._end_sessions(utcnow())
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
            EVENTS_READ.inc(len(batch))
            for n, event in enumerate(batch, 1):
                self._dispatch(event)
                self.last_seq = event.seq
                if n % DISPATCH_SLICE == 0:
                    # Let the senders run (each empties its queue while its socket takes data), so
                    # a burst longer than a queue drops only clients that do not read.
                    await asyncio.sleep(0)

    def _dispatch(self, event: EventOut) -> None:
        delivered = 0
        for sub in list(self._by_channel.get(event.channel, ())):
            if event.seq <= sub.floor:
                continue
            if event.kind == ACCESS_CHANGED:
                self._recheck(sub)
                continue
            if sub.direct is not None:
                if sub.direct(event.data):
                    delivered += 1
                    continue
                sub.direct = None  # its handler sends what follows, in order, until it catches up
            try:
                sub.queue.put_nowait(event)
                delivered += 1
            except asyncio.QueueFull:
                sub.overflowed = True
                LIVE_CLIENTS_DROPPED.inc()
                self._close(sub)  # what it has queued is of no use to it now: it reloads
        EVENTS_FANNED_OUT.inc(delivered)

    def _close(self, sub: Subscription) -> None:
        """Stop following: the client's sender gets None next (a full queue is emptied for it: the
        None used not to fit, and a reading client then waited forever with no events and no resync)."""
        self.leave(sub)
        sub.direct, sub.replay = None, None
        queue = sub.queue
        while not queue.empty():
            queue.get_nowait()
        queue.put_nowait(None)
        if sub.wake is not None:
            sub.wake()

    def _end_sessions(self, now: datetime) -> None:
        """Close the followers whose session has ended: reconnecting, they are refused."""
        while self._ends and self._ends[0] <= now:
            for sub in list(self._ending.pop(heapq.heappop(self._ends), ())):
                self._recheck(sub)

    def _recheck(self, sub: Subscription) -> None:
        """The user's access changed: end the subscription; the client reconnects and what it missed
        is replayed by its new rights (queued events are dropped: the replay sends those it may see)."""
        sub.recheck = True
        self._close(sub)

    @contextlib.asynccontextmanager
    async def subscribe(self, channels: set[str], *, after: int | None = None) -> AsyncIterator[Subscription]:
        """Subscribe for the block; events after `after` already in the table are replayed first, in order."""
        sub = await self.join(channels, after=after)
        try:
            yield sub
        finally:
            self.leave(sub)

    def leave(self, sub: Subscription) -> None:
        for channel in sub.channels:
            followers = self._by_channel.get(channel)
            if followers is not None:
                followers.discard(sub)
                if not followers:
                    del self._by_channel[channel]
        if sub.until is not None and (ending := self._ending.get(sub.until)) is not None:
            ending.discard(sub)  # the session's set stays, empty, until its end passes (one per session)

    async def join(
        self, channels: set[str], *, after: int | None = None, checked_at: int | None = None, until: datetime | None = None
    ) -> Subscription:
        """Subscribe until `leave`; events after `after` already in the table are replayed first, in order.
        `checked_at`: the channels were authorized on the database as of that event (every event up to
        it was committed); an access change after it, found in the replay, ends the subscription
        with `recheck` as a live one would. `until`: the end of the session it was admitted on;
        then it ends with `recheck` too."""
        sub = Subscription(set(channels), floor=after or 0)
        for channel in sub.channels:
            self._by_channel.setdefault(channel, set()).add(sub)
        if until is not None:
            sub.until = until
            if until not in self._ending:
                self._ending[until] = set()
                heapq.heappush(self._ends, until)
            self._ending[until].add(sub)
        try:
            # A client at the hub's head has nothing to replay: every later event reaches it live
            # (no await between joining and this check), so no query.
            if after is not None and after < self.last_seq:
                async with self.database.read() as session:
                    missed = await events.since(session, after=after, channels=sub.channels, limit=5000)
                # Live events may already be queued, or come later from a hub behind the table:
                # drop duplicates by sequence number. The replay can be longer than the queue.
                replay_until = missed[-1].seq if missed else after
                sub.floor = max(sub.floor, replay_until)
                pending: list[EventOut | None] = []
                while not sub.queue.empty():
                    item = sub.queue.get_nowait()
                    if item is None or item.seq > replay_until:
                        pending.append(item)
                for item in pending:
                    sub.queue.put_nowait(item)
                if sub.recheck:  # ended while it read (its user's access changed): nothing more
                    return sub
                if missed:
                    sub.replay = deque(missed)
                if checked_at is not None and any(e.kind == ACCESS_CHANGED and e.seq > checked_at for e in missed):
                    self._recheck(sub)
        except BaseException:
            self.leave(sub)
            raise
        return sub


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
