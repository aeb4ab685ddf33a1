"""The live channel with many real WebSocket clients against a real uvicorn server."""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import os
import socket
from collections.abc import Callable
from datetime import timedelta
from select import POLLERR, POLLHUP, POLLRDHUP, poll

import httpx
import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select
from websockets.asyncio.client import connect
from websockets.exceptions import ConnectionClosed

from services.directory.models import User
from services.events.hub import EventHub, Subscription
from services.events.models import Event
from services.events.service import last_seq, publish
from tests.helpers import publish_one, serving, wait_for
from tests.meetings.factory import build_meeting
from web.app import create_app
from web.live_transport import LiveWebSocketProtocol
from web.runtime import WEBSOCKETS
from web.temporal import TemporalHandle


@pytest.fixture
async def server(demo_db_sqlite, settings):  # type: ignore[no-untyped-def]
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    async with serving(app, **WEBSOCKETS) as address:
        yield address


async def _session(base: str, username: str) -> tuple[httpx.AsyncClient, str, str]:
    """Sign in; returns the HTTP client, the session cookie and the CSRF token."""
    client = httpx.AsyncClient(base_url=f"http://{base}")
    page = await client.get("/login")
    token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    response = await client.post("/login", data={"username": username, "password": "LienThong@2026", "csrf_token": token, "next": "/"})
    assert response.status_code == 303
    room = await client.get("/meetings")
    csrf = room.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return client, client.cookies["lt_session"], csrf


class Listener:
    """One WebSocket client that records the sequence numbers it receives."""

    def __init__(self, base: str, cookie: str, meeting_id: int) -> None:
        self.base, self.cookie, self.meeting_id = base, cookie, meeting_id
        self.seqs: list[int] = []
        self.kinds: list[str] = []
        self.task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()

    async def run(self, after: int | None = None, stop_after: int | None = None) -> None:
        url = f"ws://{self.base}/ws?channels=meeting-{self.meeting_id}" + (f"&after={after}" if after is not None else "")
        async with connect(url, additional_headers={"Cookie": f"lt_session={self.cookie}"}) as ws:
            async for raw in ws:
                message = json.loads(raw)
                if message["kind"] == "hello":
                    self.ready.set()
                    continue
                self.seqs.append(message["seq"])
                self.kinds.append(message["kind"])
                if stop_after is not None and len(self.seqs) >= stop_after:
                    return

    def start(self, **kw) -> None:  # type: ignore[no-untyped-def]
        self.task = asyncio.create_task(self.run(**kw))


async def _act(client: httpx.AsyncClient, csrf: str, meeting_id: int, action: str, **body) -> None:  # type: ignore[no-untyped-def]
    response = await client.post(
        f"/meetings/{meeting_id}/live/{action}", json=body, headers={"x-csrf-token": csrf, "accept": "application/json"}
    )
    assert response.status_code == 200, response.text


async def test_every_client_gets_every_event_in_order_and_a_reconnect_misses_nothing(server, demo_db_sqlite, settings) -> None:
    built = await build_meeting(demo_db_sqlite, settings, starts_in=timedelta(days=1))
    mid = built.meeting_id
    chair, chair_cookie, chair_csrf = await _session(server, "lan.nguyen")
    people = [await _session(server, u) for u in ("ngoc.vo", "hue.do", "thu.le", "hanh.pham")]
    listeners = [Listener(server, cookie, mid) for _, cookie, _ in [(chair, chair_cookie, chair_csrf), *people] for _ in range(5)]
    for listener in listeners:
        listener.start()
    await asyncio.wait_for(asyncio.gather(*(listener.ready.wait() for listener in listeners)), 20)
    # One client leaves after 3 events and comes back later with the last number it saw.
    leaver = Listener(server, people[1][1], mid)
    leaver.start(stop_after=3)
    await asyncio.wait_for(leaver.ready.wait(), 10)

    await _act(chair, chair_csrf, mid, "open")
    for client, _, csrf in people:
        await _act(client, csrf, mid, "checkin")
    async with demo_db_sqlite.session() as session:
        from meetings.models import AgendaItem

        items = (await session.scalars(select(AgendaItem.id).where(AgendaItem.meeting_id == mid).order_by(AgendaItem.position))).all()
    await asyncio.wait_for(leaver.task, 10)  # it left after 3 events
    for item_id in items:
        await _act(chair, chair_csrf, mid, "start-item", item_id=item_id)
    await _act(chair, chair_csrf, mid, "add-item", title="Ý kiến bổ sung của đại biểu", planned_minutes=5)
    await _act(people[1][0], people[1][2], mid, "request-floor", note="Đề xuất bổ sung chỉ tiêu")
    await _act(chair, chair_csrf, mid, "open-poll", question="Thông qua nghị quyết?", visibility="secret")

    async with demo_db_sqlite.session() as session:
        expected = list((await session.scalars(select(Event.seq).where(Event.channel == f"meeting-{mid}").order_by(Event.seq))).all())
    opened_at = next(s for s in expected if s >= min(leaver.seqs))
    expected_live = [s for s in expected if s >= opened_at]
    assert len(expected_live) >= 10

    async def complete(listener: Listener) -> None:
        while len(listener.seqs) < len(expected_live):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(asyncio.gather(*(complete(listener) for listener in listeners)), 20)
    for listener in listeners:
        assert listener.seqs == expected_live  # every event, in order, once
    # The leaver reconnects with the last number it saw: it gets exactly what it missed, in order.
    back = Listener(server, people[1][1], mid)
    back.start(after=leaver.seqs[-1])
    await asyncio.wait_for(back.ready.wait(), 10)

    async def caught_up() -> None:
        while len(leaver.seqs) + len(back.seqs) < len(expected_live):
            await asyncio.sleep(0.05)

    await asyncio.wait_for(caught_up(), 20)
    assert leaver.seqs + back.seqs == expected_live
    for listener in [*listeners, back]:
        listener.task.cancel()
    await asyncio.gather(*(listener.task for listener in [*listeners, back]), return_exceptions=True)
    for client, _, _ in [(chair, None, None), *people]:
        await client.aclose()


async def test_a_follower_that_keeps_up_costs_no_task_and_leaves_nothing_behind(demo_db_sqlite, settings) -> None:
    """The server's side of 20 followers while events flow: each handler hands its client over to
    the protocol once caught up (web/live_transport.py `park`) and ends — no task per client (its
    handler and a reader before), none per message (before that); the connection gauge counts
    them; gone clients leave the hub and the gauge."""
    built = await build_meeting(demo_db_sqlite, settings, starts_in=timedelta(days=1))
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    gauge = REGISTRY.get_sample_value("lienthong_websocket_connections") or 0.0
    async with serving(app, **WEBSOCKETS) as server:
        hub: EventHub = app.state.hub
        chair, cookie, csrf = await _session(server, "lan.nguyen")
        listeners = [Listener(server, cookie, built.meeting_id) for _ in range(20)]
        for listener in listeners:
            listener.start()
        await asyncio.wait_for(asyncio.gather(*(listener.ready.wait() for listener in listeners)), 20)

        def server_tasks(*names: str) -> int:
            return sum(1 for task in asyncio.all_tasks() if task.get_coro().__qualname__ in names)  # type: ignore[union-attr]

        await _act(chair, csrf, built.meeting_id, "open")
        await _act(chair, csrf, built.meeting_id, "add-item", title="Ý kiến bổ sung", planned_minutes=5)
        while any(len(listener.seqs) < 2 for listener in listeners):
            await asyncio.sleep(0.05)
        await wait_for(all_direct_of(hub, 20), timeout=10, every=0.01)
        assert server_tasks("_drain_client", "Queue.get", "LiveWebSocketProtocol.run_asgi") == 0
        assert REGISTRY.get_sample_value("lienthong_websocket_connections") == gauge + 20
        # The clients offered per-message deflate (websockets does by default); for ~200-byte events
        # the server declines it (a zlib context per client cost more than it saved: bench_live).
        async with connect(
            f"ws://{server}/ws?channels=meeting-{built.meeting_id}", additional_headers={"Cookie": f"lt_session={cookie}"}
        ) as ws:
            assert ws.response.headers.get("Sec-WebSocket-Extensions") is None
        for listener in listeners:
            assert listener.task is not None
            listener.task.cancel()
        await asyncio.gather(*(listener.task for listener in listeners if listener.task), return_exceptions=True)

        async def all_left() -> bool:  # each connection leaves the hub as it ends
            return not hub.subscriptions and REGISTRY.get_sample_value("lienthong_websocket_connections") == gauge

        await wait_for(all_left, timeout=20, every=0.05)
        await chair.aclose()


async def test_a_connect_reads_the_database_once(server, demo_db_sqlite, settings) -> None:
    """The session with its user (one join), and nothing more for a channel whose rule needs only
    the user: the roles and the organisation tree are read only for rules that decide by them
    (web.live.Viewer), the head comes from the process's event hub (six reads per connect once,
    then four)."""
    from sqlalchemy import event

    client, cookie, _ = await _session(server, "mai.tran")
    me = (await client.get("/api/me")).json()
    selects: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        # The event hub's own poll (every 0.5 s on SQLite) may fall in the window: not the connect's.
        # It selects every column (channel included) but filters on the sequence alone.
        where = statement.partition("WHERE")[2]
        hub_poll = "FROM events" in statement and "events.seq >" in where and "events.channel" not in where
        if statement.lstrip().upper().startswith("SELECT") and not hub_poll:
            selects.append(statement)

    event.listen(demo_db_sqlite.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with connect(f"ws://{server}/ws?channels=user-{me['id']}", additional_headers={"Cookie": f"lt_session={cookie}"}) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
    finally:
        event.remove(demo_db_sqlite.engine.sync_engine, "before_cursor_execute", seen)
    assert hello["kind"] == "hello" and len(selects) == 1, selects
    assert "FROM user_sessions JOIN users" in selects[0] or "FROM user_sessions LEFT OUTER JOIN users" in selects[0], selects
    await client.aclose()


async def test_a_meeting_page_connects_on_one_core_statement_without_an_orm_session(server, demo_db_sqlite, settings) -> None:
    """What thousands of phones following one meeting cost the database: one statement in
    SQLAlchemy Core on the lookup's bare connection, the session with its user and whether the user
    takes part — no ORM session (through one, the same reads cost twice the CPU; as two statements,
    a tenth of a connect more: bench_live). The page's own channel, the user's, reads nothing."""
    from sqlalchemy import event
    from sqlalchemy.orm import Session

    built = await build_meeting(demo_db_sqlite, settings)
    client, cookie, _ = await _session(server, "lan.nguyen")  # the chair
    selects: list[str] = []
    orm: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        if statement.lstrip().upper().startswith("SELECT") and "FROM events" not in statement:  # not the hub's poll
            selects.append(statement)

    def through_orm(state) -> None:  # type: ignore[no-untyped-def]
        orm.append(str(state.statement))

    me = (await client.get("/api/me")).json()["id"]
    channels = [f"meeting-{built.meeting_id}", f"user-{me}"]
    event.listen(demo_db_sqlite.engine.sync_engine, "before_cursor_execute", seen)
    event.listen(Session, "do_orm_execute", through_orm)
    try:
        url = f"ws://{server}/ws?channels={','.join(channels)}"
        async with connect(url, additional_headers={"Cookie": f"lt_session={cookie}"}) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
    finally:
        event.remove(demo_db_sqlite.engine.sync_engine, "before_cursor_execute", seen)
        event.remove(Session, "do_orm_execute", through_orm)
    assert hello["kind"] == "hello" and hello["channels"] == channels, hello
    assert len(selects) == 1 and "FROM user_sessions JOIN users" in selects[0] and "meeting_participants" in selects[0], selects
    assert orm == [], orm
    await client.aclose()


async def test_rules_that_decide_by_roles_read_through_an_orm_session_on_the_connects_connection(demo_db, settings) -> None:
    """The incoming channels decide as the pages do (roles, the organisation tree, the document's
    visibility): through an ORM session bound to the connect's own connection — on PostgreSQL an
    autocommit one of the lookup pool. The province's clerk follows the province's senders; a
    commune's officer may not, and nobody may follow a document that does not exist."""
    app = create_app(settings=settings, database=demo_db, temporal=TemporalHandle(settings))
    async with serving(app, **WEBSOCKETS) as address:
        clerk, cookie, _ = await _session(address, "mai.tran")
        me = (await clerk.get("/api/me")).json()
        province = me["organization_id"]
        channels = f"incomingsender-{province},incoming-999999"
        async with connect(f"ws://{address}/ws?channels={channels}", additional_headers={"Cookie": f"lt_session={cookie}"}) as ws:
            hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
        # (and the user's own channel, which every socket follows: its access changes come there)
        assert hello["kind"] == "hello" and hello["channels"] == [f"incomingsender-{province}", f"user-{me['id']}"], hello
        outsider, other, _ = await _session(address, "mocaynam.chuyenvien")
        with pytest.raises(Exception, match="403"):  # no channel it may read: refused before the handshake
            async with connect(f"ws://{address}/ws?channels={channels}", additional_headers={"Cookie": f"lt_session={other}"}) as ws:
                await asyncio.wait_for(ws.recv(), 5)
        await clerk.aclose()
        await outsider.aclose()


async def test_each_channel_of_a_connect_is_granted_or_refused_on_its_own(demo_db, settings) -> None:
    """One statement asks for the session and the first meeting channel; the rest are decided
    after it, each on its own: an outsider keeps its own channel and loses the meeting's, and an id
    past the INTEGER columns is refused without failing the connect (on PostgreSQL it did)."""
    built = await build_meeting(demo_db, settings)
    app = create_app(settings=settings, database=demo_db, temporal=TemporalHandle(settings))
    huge = "9" * 12
    async with serving(app, **WEBSOCKETS) as address:
        for username, takes_part in (("mocaynam.chuyenvien", False), ("lan.nguyen", True)):
            client, cookie, _ = await _session(address, username)
            me = (await client.get("/api/me")).json()["id"]
            kinds = ("meeting", "incoming", "incomingsender", "outgoing", "report", "print")
            asked = [f"meeting-{built.meeting_id}", f"meeting-{built.meeting_id + 1}", f"user-{me}", *(f"{k}-{huge}" for k in kinds)]
            url = f"ws://{address}/ws?channels={','.join(asked)}"
            async with connect(url, additional_headers={"Cookie": f"lt_session={cookie}"}) as ws:
                hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
            expected = sorted([f"user-{me}", *([f"meeting-{built.meeting_id}"] if takes_part else [])])
            assert hello["kind"] == "hello" and hello["channels"] == expected, (username, hello)
            await client.aclose()


async def test_a_socket_is_logged_once_with_its_client_and_path(demo_db_sqlite, settings) -> None:
    """uvicorn's line for a socket says whose it is and how it went ('"WebSocket /ws?…" [accepted]');
    the sans-I/O protocol's own "connection open" and "connection closed" beside it said nothing
    more, two JSON lines for each of thousands of phones. Its warnings and errors are kept."""
    import logging

    from web.live_transport import SANSIO_LOG

    lines: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            lines.append(record.getMessage())

    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    async with serving(app, **WEBSOCKETS) as address:
        client, cookie, _ = await _session(address, "mai.tran")
        me = (await client.get("/api/me")).json()
        uvicorn_log, keep = logging.getLogger("uvicorn.error"), Keep()
        level = uvicorn_log.level
        uvicorn_log.setLevel(logging.INFO)  # as `lienthong web` logs (the tests' servers log warnings only)
        uvicorn_log.addHandler(keep)
        try:
            async with connect(f"ws://{address}/ws?channels=user-{me['id']}", additional_headers={"Cookie": f"lt_session={cookie}"}) as ws:
                assert json.loads(await asyncio.wait_for(ws.recv(), 10))["kind"] == "hello"
            await wait_for(
                lambda: not [c for c in app.state.uvicorn.server_state.connections if isinstance(c, LiveWebSocketProtocol)], timeout=10
            )
        finally:
            uvicorn_log.removeHandler(keep)
            uvicorn_log.setLevel(level)
        await client.aclose()
    assert len(lines) == 1 and lines[0].endswith(f'"WebSocket /ws?channels=user-{me["id"]}" [accepted]'), lines
    assert SANSIO_LOG.isEnabledFor(logging.WARNING) and not SANSIO_LOG.isEnabledFor(logging.INFO)


async def test_the_channel_is_closed_to_non_participants(server, demo_db_sqlite, settings) -> None:
    built = await build_meeting(demo_db_sqlite, settings)
    outsider, cookie, _ = await _session(server, "mocaynam.chuyenvien")
    with pytest.raises(Exception) as excinfo:
        async with connect(
            f"ws://{server}/ws?channels=meeting-{built.meeting_id}", additional_headers={"Cookie": f"lt_session={cookie}"}
        ) as ws:
            await asyncio.wait_for(ws.recv(), 5)
    assert "403" in str(excinfo.value)  # refused before the handshake completes
    await outsider.aclose()


async def test_a_slow_client_is_dropped_without_slowing_the_others(demo_db_sqlite) -> None:
    hub = EventHub(demo_db_sqlite, poll_seconds=0.05)
    await hub.start()
    try:
        async with hub.subscribe({"meeting-999"}) as slow, hub.subscribe({"meeting-999"}) as fast:
            received: list[int] = []

            async def drain() -> None:
                while len(received) < 300:
                    item = await fast.queue.get()
                    assert item is not None
                    received.append(item.seq)

            reader = asyncio.create_task(drain())
            for i in range(300):
                async with demo_db_sqlite.session() as session:
                    await publish(session, channel="meeting-999", kind="agenda", payload={"i": i})
                hub.poke()
                if i % 50 == 0:
                    await asyncio.sleep(0.06)
            await asyncio.wait_for(reader, 20)
            assert received == sorted(received) and len(received) == 300
            assert slow.overflowed  # dropped: its page gets "resync" and reloads its snapshot
            # At once, not after the 256 events it can no longer use (before, the end of a full queue
            # did not fit in it: a slow client that read on got them, then waited for ever).
            assert await asyncio.wait_for(slow.next(), 5) is None
    finally:
        await hub.stop()


async def test_a_burst_longer_than_a_queue_reaches_a_reading_client_whole(demo_db_sqlite) -> None:
    """600 events committed at once (an import, a fan-out's notices) reach the hub in one read:
    dispatched all in one go, they filled every follower's queue of 256 and dropped them all,
    readers included. The hub lets the senders run between slices of a batch."""
    hub = EventHub(demo_db_sqlite, poll_seconds=3600)  # looks only when poked
    await hub.start()
    try:
        async with hub.subscribe({"meeting-996"}) as sub:
            got: list[int] = []

            async def read() -> None:  # a client that reads: its sender drains the queue when it runs
                while len(got) < 600:
                    item = await sub.queue.get()
                    assert item is not None, "a reading client was dropped"
                    got.append(item.seq)

            reader = asyncio.create_task(read())
            async with demo_db_sqlite.session() as session:
                for i in range(600):
                    await publish(session, channel="meeting-996", kind="agenda", payload={"i": i})
            hub.poke()
            await asyncio.wait_for(reader, 20)
            assert got == sorted(got) and len(set(got)) == 600 and not sub.overflowed
    finally:
        await hub.stop()


async def test_a_subscriber_gets_nothing_it_already_has_and_at_the_head_costs_no_query(demo_db_sqlite) -> None:
    from sqlalchemy import event

    from services.events.service import last_seq

    hub = EventHub(demo_db_sqlite, poll_seconds=3600)  # looks only when poked
    await hub.start()
    statements: list[str] = []

    def seen(conn, cursor, statement, *args) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(demo_db_sqlite.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with hub.subscribe({"meeting-998"}, after=hub.last_seq):
            pass
        assert not [s for s in statements if "FROM events" in s], "a client at the head needs no replay"

        # Three events the hub has not looked at yet; a page loaded after them subscribes at the
        # database's head: when the hub catches up it sends that page none of the three.
        for i in range(3):
            async with demo_db_sqlite.session() as session:
                await publish(session, channel="meeting-998", kind="agenda", payload={"i": i})
        async with demo_db_sqlite.read() as session:
            head = await last_seq(session)
        async with hub.subscribe({"meeting-998"}, after=head) as sub:
            hub.poke()
            fourth = await publish_one(demo_db_sqlite, channel="meeting-998", kind="agenda", payload={"i": 3})
            hub.poke()
            item = await asyncio.wait_for(sub.queue.get(), 10)
            assert item is not None and item.seq == fourth and sub.queue.empty()
    finally:
        event.remove(demo_db_sqlite.engine.sync_engine, "before_cursor_execute", seen)
        await hub.stop()


async def test_a_client_back_after_missing_more_than_a_queue_holds_gets_all_of_it_in_order(demo_db_sqlite) -> None:
    """A phone back after a long agenda session missed 300 events (the queue holds 256, the
    replay limit is 5,000): it gets all 300 in order, then what comes live, each once. Before,
    putting the replay in the queue raised QueueFull and the reconnect failed, again and again."""
    hub = EventHub(demo_db_sqlite, poll_seconds=3600)  # looks only when poked
    await hub.start()
    try:
        async with demo_db_sqlite.read() as session:
            start = await last_seq(session)
        async with demo_db_sqlite.session() as session:
            for i in range(300):
                await publish(session, channel="meeting-997", kind="agenda", payload={"i": i})
        async with demo_db_sqlite.read() as session:
            missed = list((await session.scalars(select(Event.seq).where(Event.seq > start).order_by(Event.seq))).all())

        async def hub_has_read_them() -> bool:
            hub.poke()
            return hub.last_seq == missed[-1]

        await wait_for(hub_has_read_them, timeout=20, every=0.05)  # they went out live before the phone came back
        async with hub.subscribe({"meeting-997"}, after=start) as sub:
            live = await publish_one(demo_db_sqlite, channel="meeting-997", kind="agenda", payload={"i": 300})
            hub.poke()
            got = []
            while len(got) < 301:
                item = await asyncio.wait_for(sub.next(), 10)
                assert item is not None
                got.append(item.seq)
            assert got == [*missed, live]
            assert not sub.replay and sub.queue.empty()
    finally:
        await hub.stop()


async def test_a_foreign_origin_is_refused_and_our_own_pages_are_served(server, demo_db_sqlite, settings) -> None:
    client, cookie, _ = await _session(server, "mai.tran")
    async with demo_db_sqlite.session() as session:
        me = await session.scalar(select(User.id).where(User.username == "mai.tran"))
    url = f"ws://{server}/ws?channels=user-{me}"
    headers = {"Cookie": f"lt_session={cookie}"}
    for origin in ("https://evil.example", "null", f"http://{server}.evil.example"):
        with pytest.raises(Exception) as excinfo:
            async with connect(url, additional_headers={**headers, "Origin": origin}) as ws:
                await asyncio.wait_for(ws.recv(), 5)
        assert "403" in str(excinfo.value), origin  # refused before the handshake completes
    settings.base_url = "https://lienthong.example.vn"
    for origin in (f"http://{server}", "https://lienthong.example.vn"):  # same origin; the configured base URL
        async with connect(url, additional_headers={**headers, "Origin": origin}) as ws:
            assert json.loads(await asyncio.wait_for(ws.recv(), 5))["kind"] == "hello", origin
    await client.aclose()


async def test_a_foreign_origin_gets_close_code_4403(demo_db_sqlite, settings) -> None:
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    sent: list[dict] = []

    async def receive() -> dict:
        return {"type": "websocket.connect"}

    async def send(message: dict) -> None:
        sent.append(message)

    scope = {
        "type": "websocket",
        "path": "/ws",
        "raw_path": b"/ws",
        "query_string": b"channels=user-1",
        "headers": [(b"host", b"127.0.0.1:8000"), (b"origin", b"https://evil.example")],
        "scheme": "ws",
        "server": ("127.0.0.1", 8000),
        "client": ("10.0.0.9", 4000),
        "root_path": "",
        "subprotocols": [],
        "asgi": {"version": "3.0"},
    }
    await app(scope, receive, send)
    assert sent == [{"type": "websocket.close", "code": 4403, "reason": ""}]


def _stalled_client(address: str, cookie: str, meeting_id: int) -> socket.socket:
    """A WebSocket client that completes the handshake and then never reads again (a frozen tab),
    with a small receive buffer so that the server's side fills quickly."""
    host, port = address.split(":")
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    sock.connect((host, int(port)))
    key = base64.b64encode(os.urandom(16)).decode()
    sock.sendall(
        f"GET /ws?channels=meeting-{meeting_id} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n"
        f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\n"
        f"Cookie: lt_session={cookie}\r\n\r\n".encode()
    )
    response = b""
    while not response.endswith(b"\r\n\r\n"):
        response += sock.recv(1)  # a byte at a time: nothing after the handshake is read
    assert response.startswith(b"HTTP/1.1 101"), response
    return sock


def _reset_by_server(sock: socket.socket) -> bool:
    """Whether the server ended the connection, seen without reading what is still unread."""
    poller = poll()
    poller.register(sock, POLLERR | POLLHUP | POLLRDHUP)
    return bool(poller.poll(0))


class QuickDeadline(LiveWebSocketProtocol):
    write_timeout = 1.0


def followers(hub: EventHub, count: int) -> Callable[[], bool]:
    """Whether `count` live clients are followed by the hub (a connection leaves it as it ends)."""
    return lambda: len(hub.subscriptions) == count


async def test_a_client_that_stops_reading_is_aborted_without_slowing_the_others_and_catches_up(demo_db_sqlite, settings) -> None:
    """A frozen tab: its connection fills and uvicorn's send waits on it for ever (the keep-alive
    timeout only closes a transport, which waits for the unsent data). The write deadline aborts
    it; the readers meanwhile get every event; the tab's reconnect replays what it missed."""

    built = await build_meeting(demo_db_sqlite, settings, starts_in=timedelta(days=1))
    mid, channel = built.meeting_id, f"meeting-{built.meeting_id}"
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    aborted_before = REGISTRY.get_sample_value("lienthong_live_clients_aborted_total") or 0.0

    async def readers_have(count: int) -> bool:
        return all(len(reader.seqs) == count for reader in readers)

    async with serving(app, **{**WEBSOCKETS, "ws": QuickDeadline}) as address:
        chair, cookie, _ = await _session(address, "lan.nguyen")
        readers = await _listening(address, cookie, mid, 3)
        stalled = await asyncio.to_thread(_stalled_client, address, cookie, mid)
        hub: EventHub = app.state.hub
        await wait_for(followers(hub, 4), timeout=20)
        async with demo_db_sqlite.read() as session:
            start = await last_seq(session)

        published = 0
        # 32 KB events (a long minutes text) in bursts of 10, until the stalled connection ends: the
        # server's kernel grows its send buffer to megabytes before the transport pauses.
        for _ in range(100):
            async with demo_db_sqlite.session() as session:
                for _ in range(10):
                    await publish(session, channel=channel, kind="bench", payload={"i": published, "pad": "x" * 32_000})
                    published += 1
            # The readers get each burst whole while the stalled client is still held.
            await wait_for(lambda: readers_have(published), timeout=20, every=0.05)
            if len(hub.subscriptions) == 3:
                break
        await wait_for(followers(hub, 3), timeout=20)
        await wait_for(lambda: _reset(stalled), timeout=10)
        assert (REGISTRY.get_sample_value("lienthong_live_clients_aborted_total") or 0.0) == aborted_before + 1
        stalled.close()

        async with demo_db_sqlite.read() as session:
            expected = list((await session.scalars(select(Event.seq).where(Event.seq > start).order_by(Event.seq))).all())
        assert len(expected) == published
        for reader in readers:
            assert reader.seqs == expected  # every event, in order, once
        # The tab wakes and reconnects with the last number it had seen: it gets what it missed.
        back = Listener(address, cookie, mid)
        await asyncio.wait_for(back.run(after=start, stop_after=published), 20)
        assert back.seqs == expected
        for reader in readers:
            assert reader.task is not None
            reader.task.cancel()
        await asyncio.gather(*(reader.task for reader in readers if reader.task), return_exceptions=True)
        await chair.aclose()


async def test_a_connection_closed_by_the_keepalive_with_data_unsent_is_reset_too(demo_db_sqlite, settings) -> None:
    """A client that stopped reading when a few events were left in the transport (less than the
    high-water mark: the transport never pauses) and then gets no more: the keep-alive timeout
    closes the transport, which waits for that data for ever, and the handler waits for an event.
    The write deadline covers this close too."""
    built = await build_meeting(demo_db_sqlite, settings, starts_in=timedelta(days=1))
    mid = built.meeting_id
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    async with serving(app, **{**WEBSOCKETS, "ws": QuickDeadline, "ws_ping_interval": 3, "ws_ping_timeout": 1}) as address:
        _, cookie, _ = await _session(address, "lan.nguyen")
        stalled = await asyncio.to_thread(_stalled_client, address, cookie, mid)
        hub: EventHub = app.state.hub
        await wait_for(followers(hub, 1), timeout=20)
        (protocol,) = [c for c in app.state.uvicorn.server_state.connections if isinstance(c, LiveWebSocketProtocol)]
        # A small kernel buffer on the server's side, so that a few events fill it (on loopback it
        # grows to megabytes, which the keep-alive would not wait for).
        protocol.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)

        async def written(seq: int) -> bool:  # the hub handed it on and the sender took it (and wrote it)
            return hub.last_seq >= seq and all(sub.queue.empty() for sub in hub.subscriptions)

        async def data_left_unsent() -> bool:
            seq = await publish_one(demo_db_sqlite, channel=f"meeting-{mid}", kind="bench", payload={"pad": "x" * 8000})
            await wait_for(lambda: written(seq), timeout=10, every=0.01)
            return protocol.transport.get_write_buffer_size() > 0

        await wait_for(data_left_unsent, timeout=20, every=0)
        assert protocol.writable.is_set()  # not paused: the write deadline was not armed by a pause
        await wait_for(followers(hub, 0), timeout=20)
        await wait_for(lambda: _reset(stalled), timeout=10)
        stalled.close()


async def _reset(sock: socket.socket) -> bool:
    return _reset_by_server(sock)


async def test_the_hub_writes_to_clients_that_keep_up_and_one_that_lags_gets_the_rest_in_order(
    demo_db_sqlite, settings, monkeypatch
) -> None:
    """Clients that keep up are written to by the hub itself (web/live_transport.py `send_now`):
    their handlers are not woken per event (before: one wake-up and one ASGI send each). A client
    that stops reading for a while gets what the socket could not take queued, written in order
    after what was written directly as its socket drains, and is written to directly again."""
    wakes = 0
    next_event = Subscription.next

    async def counted(self: Subscription) -> object:
        nonlocal wakes
        wakes += 1
        return await next_event(self)

    monkeypatch.setattr(Subscription, "next", counted)
    built = await build_meeting(demo_db_sqlite, settings, starts_in=timedelta(days=1))
    mid, channel = built.meeting_id, f"meeting-{built.meeting_id}"
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    async with serving(app, **WEBSOCKETS) as address:
        hub: EventHub = app.state.hub
        chair, cookie, _ = await _session(address, "lan.nguyen")
        readers = await _listening(address, cookie, mid, 3)

        async def readers_have(count: int) -> bool:
            return all(len(reader.seqs) == count for reader in readers)

        await wait_for(all_direct_of(hub, 3), timeout=10, every=0.01)
        woken = wakes
        for i in range(30):
            await publish_one(demo_db_sqlite, channel=channel, kind="agenda", payload={"i": i})
        await wait_for(lambda: readers_have(30), timeout=20, every=0.02)
        assert wakes == woken  # thirty events to three clients, no handler woken

        # A client that stops reading (websockets stops reading its socket once a message waits):
        # 64 KB events fill the kernel's buffers, the transport pauses, the rest waits in its queue.
        lagging, gate = Listener(address, cookie, mid), asyncio.Event()

        async def lag() -> None:
            url = f"ws://{address}/ws?channels={channel}"
            async with connect(url, additional_headers={"Cookie": f"lt_session={cookie}"}, max_queue=1, max_size=None) as ws:
                lagging.ready.set()
                await gate.wait()
                async for raw in ws:
                    message = json.loads(raw)
                    if message["kind"] != "hello":
                        lagging.seqs.append(message["seq"])

        lagging.task = asyncio.create_task(lag())
        await asyncio.wait_for(lagging.ready.wait(), 10)
        await wait_for(all_direct_of(hub, 4), timeout=10, every=0.01)
        async with demo_db_sqlite.read() as session:
            start = await last_seq(session)
        published = 0
        while all(sub.direct is not None for sub in hub.subscriptions):
            async with demo_db_sqlite.session() as session:
                for _ in range(10):
                    await publish(session, channel=channel, kind="bench", payload={"i": published, "pad": "x" * 64_000})
                    published += 1
            await wait_for(lambda: readers_have(30 + published), timeout=20, every=0.02)
            assert published < 2000, "the lagging client's socket never filled"
        gate.set()
        await wait_for(lambda: _has(lagging, published), timeout=30, every=0.05)
        async with demo_db_sqlite.read() as session:
            expected = list((await session.scalars(select(Event.seq).where(Event.seq > start).order_by(Event.seq))).all())
        assert lagging.seqs == expected and all(reader.seqs[30:] == expected for reader in readers)
        # What the socket could not take waited in the subscription and was written by the protocol as
        # the socket drained (web/live_transport.py `resume_writing`): no handler was woken for it.
        assert wakes == woken
        await wait_for(all_direct_of(hub, 4), timeout=10, every=0.01)  # caught up: written to directly again
        for task in [*(reader.task for reader in readers), lagging.task]:
            assert task is not None
            task.cancel()
        await asyncio.gather(*(reader.task for reader in readers if reader.task), lagging.task, return_exceptions=True)
        await chair.aclose()


def all_direct_of(hub: EventHub, count: int):  # type: ignore[no-untyped-def]
    async def check() -> bool:
        return len(hub.subscriptions) == count and all(sub.direct is not None for sub in hub.subscriptions)

    return check


async def _has(listener: Listener, count: int) -> bool:
    return len(listener.seqs) >= count


async def test_the_hub_writes_directly_to_compressed_connections_too(demo_db_sqlite, settings) -> None:
    """With per-message deflate negotiated (not our default) each connection frames and compresses
    for itself; events still arrive whole and in order."""
    built = await build_meeting(demo_db_sqlite, settings, starts_in=timedelta(days=1))
    mid, channel = built.meeting_id, f"meeting-{built.meeting_id}"
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    async with serving(app, **{**WEBSOCKETS, "ws_per_message_deflate": True}) as address:
        chair, cookie, _ = await _session(address, "lan.nguyen")
        readers = await _listening(address, cookie, mid, 2)
        await wait_for(all_direct_of(app.state.hub, 2), timeout=10, every=0.01)
        seqs = [await publish_one(demo_db_sqlite, channel=channel, kind="agenda", payload={"i": i, "pad": "y" * 500}) for i in range(10)]
        await wait_for(lambda: _has_all(readers, 10), timeout=20, every=0.02)
        assert all(reader.seqs == seqs for reader in readers)
        for reader in readers:
            assert reader.task is not None
            reader.task.cancel()
        await asyncio.gather(*(reader.task for reader in readers if reader.task), return_exceptions=True)
        await chair.aclose()


async def _has_all(listeners: list[Listener], count: int) -> bool:
    return all(len(listener.seqs) >= count for listener in listeners)


async def test_a_live_socket_skips_the_router_and_the_http_middleware(server, demo_db_sqlite, settings, monkeypatch) -> None:
    """The socket goes straight to its handler (web/live.py `LiveFirst`): not through FastAPI's and
    Starlette's wrappers and our middleware, which only let it through, nor matched against every
    route of the application."""
    from starlette.applications import Starlette
    from starlette.routing import Router

    seen: dict[str, list[str]] = {"stack": [], "router": []}
    stack, route = Starlette.__call__, Router.__call__

    async def through_stack(self, scope, receive, send):  # type: ignore[no-untyped-def]
        seen["stack"].append(scope["type"])
        await stack(self, scope, receive, send)

    async def through_router(self, scope, receive, send):  # type: ignore[no-untyped-def]
        seen["router"].append(scope["type"])
        await route(self, scope, receive, send)

    monkeypatch.setattr(Starlette, "__call__", through_stack)
    monkeypatch.setattr(Router, "__call__", through_router)
    built = await build_meeting(demo_db_sqlite, settings, starts_in=timedelta(days=1))
    chair, cookie, _ = await _session(server, "lan.nguyen")
    listener = Listener(server, cookie, built.meeting_id)
    await asyncio.wait_for(_hello(listener), 10)
    assert all("http" in types and "websocket" not in types for types in seen.values()), seen
    await chair.aclose()


async def _hello(listener: Listener) -> None:
    listener.start()
    await listener.ready.wait()
    assert listener.task is not None
    listener.task.cancel()
    await asyncio.gather(listener.task, return_exceptions=True)


async def _listening(address: str, cookie: str, meeting_id: int, count: int) -> list[Listener]:
    """`count` clients following the meeting, each past its hello."""
    listeners = [Listener(address, cookie, meeting_id) for _ in range(count)]
    for listener in listeners:
        listener.start()
    await asyncio.wait_for(asyncio.gather(*(listener.ready.wait() for listener in listeners)), 20)
    return listeners


async def test_a_client_too_far_behind_gets_resync_and_close_4000_from_the_protocol(demo_db_sqlite, settings) -> None:
    """A client whose socket stays full while more events than its queue holds (256) go out is
    dropped: when it reads again it gets what its socket held, then `resync` and close code 4000 —
    written by the protocol, its handler long gone — and the hub holds nothing for it."""
    built = await build_meeting(demo_db_sqlite, settings, starts_in=timedelta(days=1))
    channel = f"meeting-{built.meeting_id}"
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    dropped_before = REGISTRY.get_sample_value("lienthong_live_clients_dropped_total") or 0.0
    async with serving(app, **WEBSOCKETS) as address:
        hub: EventHub = app.state.hub
        chair, cookie, _ = await _session(address, "lan.nguyen")
        got: list[dict[str, object]] = []
        ready, gate = asyncio.Event(), asyncio.Event()
        closed: list[int | None] = []

        async def lagging() -> None:
            host, port = address.split(":")
            sock = socket.socket()
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # fills after a few events
            sock.setblocking(False)
            await asyncio.get_running_loop().sock_connect(sock, (host, int(port)))
            url = f"ws://{address}/ws?channels={channel}"
            async with connect(url, sock=sock, additional_headers={"Cookie": f"lt_session={cookie}"}, max_queue=1) as ws:
                ready.set()
                await gate.wait()
                with contextlib.suppress(ConnectionClosed):
                    async for raw in ws:
                        got.append(json.loads(raw))
                closed.append(ws.close_code)

        task = asyncio.create_task(lagging())
        await asyncio.wait_for(ready.wait(), 10)
        await wait_for(all_direct_of(hub, 1), timeout=10, every=0.01)
        ((sub, protocol),) = [
            (s, c) for s in hub.subscriptions for c in app.state.uvicorn.server_state.connections if isinstance(c, LiveWebSocketProtocol)
        ]
        protocol.transport.get_extra_info("socket").setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, 8192)
        async with demo_db_sqlite.session() as session:
            for i in range(400):  # 800 KB: the socket and the transport's buffer hold a small part
                await publish(session, channel=channel, kind="agenda", payload={"i": i, "pad": "x" * 2000})
        await wait_for(lambda: sub.overflowed, timeout=20, every=0.02)
        assert not hub.subscriptions
        gate.set()
        await asyncio.wait_for(task, 20)
        events = [m for m in got if m["kind"] == "agenda"]
        assert 0 < len(events) < 400 and [m["data"]["i"] for m in events] == list(range(len(events)))  # type: ignore[index]
        assert got[-1]["kind"] == "resync" and got[-1]["seq"] == hub.last_seq and closed == [4000]
        assert REGISTRY.get_sample_value("lienthong_live_clients_dropped_total") == dropped_before + 1
        await chair.aclose()


async def test_a_reconnect_storm_reads_on_a_few_pooled_connections(demo_db, settings) -> None:
    """Forty phones reconnecting at once (after a restart, a network blip): their connects read the
    database at most LOOKUP_CONNECTIONS at a time, on kept connections (PostgreSQL: the lookup pool,
    not the pages') — not every connection of the pool plus overflow ones opened and closed for one
    read each."""
    from sqlalchemy import event

    from services.db import LOOKUP_CONNECTIONS

    app = create_app(settings=settings, database=demo_db, temporal=TemporalHandle(settings))
    async with serving(app, **WEBSOCKETS) as address:
        client, cookie, _ = await _session(address, "lan.nguyen")
        me = (await client.get("/api/me")).json()
        out, most = 0, 0

        def checkout(*_args) -> None:  # type: ignore[no-untyped-def]
            nonlocal out, most
            out += 1
            most = max(most, out)

        def checkin(*_args) -> None:  # type: ignore[no-untyped-def]
            nonlocal out
            out -= 1

        pool = (demo_db.lookup_engine or demo_db.engine).sync_engine
        event.listen(pool, "checkout", checkout)
        event.listen(pool, "checkin", checkin)
        try:
            url = f"ws://{address}/ws?channels=user-{me['id']}"
            sockets = await asyncio.gather(*(connect(url, additional_headers={"Cookie": f"lt_session={cookie}"}) for _ in range(40)))
            hellos = [json.loads(await asyncio.wait_for(ws.recv(), 10)) for ws in sockets]
        finally:
            event.remove(pool, "checkout", checkout)
            event.remove(pool, "checkin", checkin)
        assert all(hello["kind"] == "hello" for hello in hellos)
        # and on SQLite the event hub's poll
        assert 0 < most <= LOOKUP_CONNECTIONS + (demo_db.lookup_engine is None), most
        await asyncio.gather(*(ws.close() for ws in sockets))
        await client.aclose()


async def test_a_client_that_speaks_before_it_is_handed_over_is_still_heard(demo_db_sqlite, settings) -> None:
    """A message that arrives while the handler is still at work (its connect waiting for the
    database, its replay waiting on a full socket) makes uvicorn pause reading until the application
    reads it, which the live channel never does: handed over to the protocol, the connection would
    not see the client's close and kept its subscription. Reading resumes when it is handed over."""
    from websockets.frames import Close, Frame, Opcode

    from services.db import LOOKUP_CONNECTIONS

    built = await build_meeting(demo_db_sqlite, settings, starts_in=timedelta(days=1))
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    async with serving(app, **WEBSOCKETS) as address:
        hub: EventHub = app.state.hub
        _, cookie, _ = await _session(address, "lan.nguyen")
        host, port = address.split(":")
        sock = socket.create_connection((host, int(port)))
        key = base64.b64encode(os.urandom(16)).decode()
        handshake = (
            f"GET /ws?channels=meeting-{built.meeting_id} HTTP/1.1\r\nHost: {address}\r\nUpgrade: websocket\r\n"
            f"Connection: Upgrade\r\nSec-WebSocket-Key: {key}\r\nSec-WebSocket-Version: 13\r\nCookie: lt_session={cookie}\r\n\r\n"
        ).encode()
        # The connect waits for its turn to read the database (all turns taken here) while the
        # client, not waiting for the server's answer, already sends a message.
        turns = demo_db_sqlite.lookup_turns
        for _ in range(LOOKUP_CONNECTIONS):
            await turns.acquire()
        await asyncio.to_thread(sock.sendall, handshake)

        def upgraded() -> list[LiveWebSocketProtocol]:
            return [c for c in app.state.uvicorn.server_state.connections if isinstance(c, LiveWebSocketProtocol)]

        await wait_for(upgraded, timeout=10, every=0.01)
        await asyncio.to_thread(sock.sendall, Frame(Opcode.TEXT, b"ping?").serialize(mask=True, extensions=[]))
        (protocol,) = upgraded()
        await wait_for(lambda: protocol.read_paused, timeout=10, every=0.01)
        for _ in range(LOOKUP_CONNECTIONS):
            turns.release()
        await wait_for(followers(hub, 1), timeout=10, every=0.02)
        close = Frame(Opcode.CLOSE, Close(1000, "").serialize()).serialize(mask=True, extensions=[])
        await asyncio.to_thread(sock.sendall, close)
        await wait_for(followers(hub, 0), timeout=10, every=0.02)
        sock.close()


async def test_an_event_costs_the_followers_of_its_channel_and_no_one_else(demo_db_sqlite) -> None:
    """A notice to one user while 2,000 phones follow a meeting: the hub hands it to that user's
    client without asking the 2,000 whether they follow its channel (before: every subscription was
    asked, for every event — a fan-out's thousands of notices times every client of the process)."""

    class Asked(set[str]):
        count = 0

        def __contains__(self, item: object) -> bool:
            Asked.count += 1
            return super().__contains__(item)

    hub = EventHub(demo_db_sqlite, poll_seconds=3600)  # looks only when poked
    await hub.start()
    try:
        crowd = [await hub.join({"meeting-995"}) for _ in range(2000)]
        for sub in crowd:
            sub.channels = Asked(sub.channels)
        mine = await hub.join({"user-995"})
        seq = await publish_one(demo_db_sqlite, channel="user-995", kind="badge", payload={"unread": 1})
        hub.poke()
        item = await asyncio.wait_for(mine.next(), 10)
        assert item is not None and item.seq == seq
        assert Asked.count == 0 and all(sub.caught_up for sub in crowd)
        for sub in [*crowd, mine]:
            hub.leave(sub)
        assert not hub.subscriptions and not hub._by_channel
    finally:
        await hub.stop()
