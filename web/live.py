"""The live channel: one WebSocket per page, following event channels the principal may read.

Clients send `after=<last seq seen>` when they reconnect and receive what they missed, in
order, exactly once; a client too far behind or too slow gets `{"kind": "resync"}` and
reloads its snapshot. Each domain registers who may read its channels in CHANNEL_RULES.

A connect is cheap (bench/bench_live.py, issue 16): one statement, the session's user and — for a
meeting's room — whether the user takes part (`SqlRule`; `Database.lookup`: SQLAlchemy Core on a
bare connection; on PostgreSQL no transaction around it, no ping before it); the roles and the
organisation tree only when a rule needs them (`Viewer.principal`), read fresh then, never cached;
the event head from the process's hub, which already knows it.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from fastapi import APIRouter, FastAPI, WebSocket, WebSocketDisconnect
from sqlalchemy import ColumnElement, bindparam, select
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncSession
from starlette.routing import WebSocketRoute
from starlette.types import Receive, Scope, Send

from services.auth import service as auth
from services.authz import Principal, load_principal
from services.directory.models import User
from services.events import service as events
from services.events.hub import EventHub, Subscription
from services.metrics import WEBSOCKET_CONNECTIONS
from services.numbers import is_digits
from web.deps import MAX_ID, SESSION_COOKIE, Access
from web.live_transport import PARK, RECHECK_CLOSE, RESYNC_CLOSE, resync_message

router = APIRouter(tags=["live"])
MAX_REPLAY = 5000


class Viewer:
    """Who opened the socket, as the channel rules see them: `user_id`, an active user of a live
    session; `connection`, the connect's lookup, for a rule's own statements in SQLAlchemy Core
    (a meeting's participants: thousands of phones at once); `session()` and `principal()` — the
    user's roles and the organisation tree — for the rules that decide as the pages do. The
    session is bound to the same connection on first need and the principal read then, never
    cached: a rule always decides on current roles and a current tree."""

    __slots__ = ("_principal", "_session", "connection", "user_id")

    def __init__(self, connection: AsyncConnection, user_id: int) -> None:
        self.connection = connection
        self.user_id = user_id
        self._session: AsyncSession | None = None
        self._principal: Principal | None = None

    def session(self) -> AsyncSession:
        if self._session is None:
            self._session = AsyncSession(bind=self.connection)
        return self._session

    async def principal(self) -> Principal:
        if self._principal is None:
            session = self.session()
            self._principal = await load_principal(session, await session.get_one(User, self.user_id))
        return self._principal

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


ChannelRule = Callable[[Viewer, str], Awaitable[bool]]


def channel_id(ident: str) -> int | None:
    """The id a channel names (`meeting-12`: 12); None for anything else, a number past the INTEGER
    columns included (PostgreSQL refuses to compare with it: the connect failed)."""
    return int(ident) if is_digits(ident) and int(ident) <= MAX_ID else None


Truth = Callable[[ColumnElement[int], ColumnElement[Any]], ColumnElement[bool]]


class SqlRule:
    """A channel rule that is one SQL truth about the user, `truth(user id, channel's ident)` (a
    meeting's participants). A connect asks it in the statement that looks up its session, so that a
    phone following a meeting costs one read; `ident` turns the channel's ident into the statement's
    value (None: malformed, refused). Another channel of the same kind in that connect asks it
    alone."""

    __slots__ = ("_alone", "ident", "with_session")

    def __init__(self, truth: Truth, ident: Callable[[str], object | None]) -> None:
        self.ident = ident
        # Built once, their cache keys too: thousands of phones connect at once.
        self._alone = select(truth(bindparam("user"), bindparam("ident")))
        self.with_session = auth.live_session_statement(truth(auth.LIVE_SESSION_USER_ID, bindparam("ident")))

    async def __call__(self, viewer: Viewer, ident: str) -> bool:
        value = self.ident(ident)
        return value is not None and bool(await viewer.connection.scalar(self._alone, {"user": viewer.user_id, "ident": value}))


async def _own_user_channel(viewer: Viewer, ident: str) -> bool:
    return ident == str(viewer.user_id)


# channel prefix ("user" in "user-12") -> may this viewer read it?
CHANNEL_RULES: dict[str, ChannelRule] = {"user": _own_user_channel}


async def authorize_channels(viewer: Viewer, channels: set[str]) -> set[str]:
    allowed = set()
    for channel in channels:
        prefix, _, ident = channel.partition("-")
        rule = CHANNEL_RULES.get(prefix)
        if rule is not None and ident and await rule(viewer, ident):
            allowed.add(channel)
    return allowed


async def _session_and_sql_rule(
    connection: AsyncConnection, token: str, requested: set[str]
) -> tuple[tuple[int, datetime] | None, set[str], set[str]]:
    """The session's user and when the session ends; in the same statement, the first requested
    channel a `SqlRule` decides (a page follows one meeting at most). Returns the session (None: no
    live session), the channel decided and, if the user may read it, the channel granted."""
    for channel in sorted(requested):
        prefix, _, ident = channel.partition("-")
        rule = CHANNEL_RULES.get(prefix)
        if isinstance(rule, SqlRule) and (value := rule.ident(ident)) is not None:
            row = (await connection.execute(rule.with_session, auth.live_session_params(token) | {"ident": value})).first()
            if row is None:
                return None, set(), set()
            return (row[0], row[1]), {channel}, {channel} if row[2] else set()
    return await auth.live_session(connection, token=token), set(), set()


def origin_allowed(origin: str | None, host: str | None, base_url: str) -> bool:
    """A browser's socket must come from our own pages: the configured base URL or the host it
    connected to (same origin). No Origin at all is a non-browser client, which has no cookie
    of a victim to abuse."""
    if origin is None:
        return True
    parsed = urlsplit(origin)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        return False
    base = urlsplit(base_url)
    if (parsed.scheme, parsed.netloc.lower()) == (base.scheme, base.netloc.lower()):
        return True
    return host is not None and parsed.netloc.lower() == host.lower()


async def live(websocket: WebSocket) -> None:
    """Access: signed-in users, for the channels their roles let them read (checked per channel)."""
    if not origin_allowed(websocket.headers.get("origin"), websocket.headers.get("host"), websocket.app.state.settings.base_url):
        # Another site's page opening a socket with the user's cookie (cross-site WebSocket hijacking).
        await websocket.close(code=4403)
        return
    database = websocket.app.state.db
    hub: EventHub = websocket.app.state.hub
    token = websocket.cookies.get(SESSION_COOKIE)
    requested = {c for c in websocket.query_params.get("channels", "").split(",") if c}
    after_raw = websocket.query_params.get("after", "")

    async def admit(connection: AsyncConnection) -> tuple[tuple[int, datetime] | None, set[str], int]:
        # Refused unless the cookie names a live session (not signed out, not expired) of an active user.
        if not token:
            return None, set(), 0
        # The hub has read the head already (it follows the table): a client told this head gets
        # every later event, live or — when the hub moves on before it subscribes — replayed. Read
        # before the rights: every event up to it was committed when they were read, so an access
        # change after it may have been missed by them (`join`'s checked_at).
        head = hub.last_seq if hub.started else await events.last_seq(connection)
        live_session, decided, granted = await _session_and_sql_rule(connection, token, requested)
        if live_session is None:
            return None, set(), 0
        user_id = live_session[0]
        viewer = Viewer(connection, user_id)
        try:
            channels = granted | await authorize_channels(viewer, requested - decided)
        finally:
            await viewer.close()
        if channels:
            # Whatever the page asked for, the socket follows its user's channel: their access
            # changes arrive there and end it (services/events/hub.py).
            channels.add(events.user_channel(user_id))
        return live_session, channels, head

    live_session, channels, head = await database.lookup(admit)  # a few connects at a time
    if live_session is None:
        await websocket.close(code=4401)
        return
    if not channels:
        await websocket.close(code=4404)
        return
    await websocket.accept()
    after = int(after_raw) if is_digits(after_raw) else None
    if after is not None and head - after > MAX_REPLAY:
        await websocket.send_text(resync_message(head))
        after = head
    WEBSOCKET_CONNECTIONS.inc()
    parked = False
    try:
        parked = await _follow(websocket, hub, channels, after=after if after is not None else head, head=head, until=live_session[1])
    finally:
        if not parked:  # a parked connection lowers it when it ends (web/live_transport.py)
            WEBSOCKET_CONNECTIONS.dec()


async def _follow(websocket: WebSocket, hub: EventHub, channels: set[str], *, after: int, head: int, until: datetime) -> bool:
    """Send the client its channels' events until it goes away or is dropped for being slow; or,
    served by our protocol (web/live_transport.py), until it is caught up: then hand it over to the
    protocol and return True (the hub writes to its socket; nothing of this handler stays)."""
    park = websocket.scope.get("extensions", {}).get(PARK)
    sub = await hub.join(channels, after=after, checked_at=head, until=until)
    parked = False
    try:
        await websocket.send_json({"kind": "hello", "seq": head, "channels": sorted(channels)})
        # Another server (tests' ASGI client, stock uvicorn) keeps this handler for the connection's
        # life: one reader notices when the client goes away, and the sender below is a plain loop
        # on the queue (no task per message), each event's text encoded once for every client.
        receiver = asyncio.create_task(_drain_client(websocket, sub)) if park is None else None
        try:
            while True:
                if park is not None and sub.caught_up:
                    park(hub, sub)
                    parked = True
                    return True
                item = await sub.next()
                if item is None:
                    if sub.gone:
                        return False
                    if sub.recheck:  # its user's access changed: the page reconnects and is decided again
                        await websocket.close(code=RECHECK_CLOSE)
                        return False
                    # Dropped for being slow: tell the client to resync.
                    await websocket.send_text(resync_message(hub.last_seq))
                    await websocket.close(code=RESYNC_CLOSE)
                    return False
                await websocket.send_text(item.text)
        except Exception:  # noqa: BLE001 - the client went away mid-send (disconnect, closed transport)
            return False
        finally:
            if receiver is not None:
                receiver.cancel()
    finally:
        if not parked:
            hub.leave(sub)


async def _drain_client(websocket: WebSocket, sub: Subscription) -> None:
    """Read (and ignore) what the client sends, to notice when it goes away; then wake the sender
    (a full queue needs no wake: the sender's next send fails on the closed socket)."""
    try:
        while True:
            await websocket.receive_text()
    except WebSocketDisconnect:
        pass
    finally:
        sub.gone = True
        with contextlib.suppress(asyncio.QueueFull):
            sub.queue.put_nowait(None)


# A plain Starlette route: FastAPI's websocket route solves dependencies (this one has none) in two
# exit stacks per connect, ~12 % of a connect's CPU and 4 KB a client (bench_live, issue 16).
LIVE_ROUTE = WebSocketRoute("/ws", live)
router.routes.append(LIVE_ROUTE)


class LiveFirst(FastAPI):
    """The application, except that the live channel's sockets go straight to their handler.
    Thousands of them connect at once and stay open for hours. Through the application each connect
    passed FastAPI's telemetry and body-limit wrappers, Starlette's error middleware and ours (they
    let websockets through, each at a cost and keeping a frame while the handler runs), was matched
    against every route, and went through its route's wrappers (they turn a WebSocketException into
    a close, which `live` never raises): 5 % of a connect's CPU and more (bench_live). The route stays
    in the router too (its access rule is audited there)."""

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "websocket" and scope["path"] == LIVE_ROUTE.path:
            scope["app"] = self  # as Starlette sets it: the handler finds the database and hub in its state
            await live(WebSocket(scope, receive=receive, send=send))
        else:
            await super().__call__(scope, receive, send)


# The WebSocket route's access rule, for the route-audit test (checked per channel above).
LIVE_ACCESS = Access()
