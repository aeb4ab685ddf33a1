"""A live socket follows its user's current rights. An access change (removed from a meeting,
signed out, a role taken away) closes every socket of the user's with code 4001, and the page
connects again: its channels are decided anew. On our protocol (a caught-up connection is written
to by the hub, its handler gone) and on a stock one (the handler's own loop)."""

from __future__ import annotations

import asyncio
import contextlib
import json
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sqlalchemy import select, update
from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed, InvalidStatus

from meetings.models import Meeting, MeetingParticipant
from services.auth import service as auth
from services.auth.models import UserSession
from services.db import utcnow
from services.directory import service as directory
from services.directory.models import Role, RoleAssignment, Unit, User
from services.events.hub import EventHub
from services.events.models import Event
from services.events.service import ACCESS_CHANGED, access_changed, user_channel
from tests.helpers import CSRF_RE, publish_one, serving, wait_for
from tests.meetings.factory import build_meeting, principal
from web.app import create_app
from web.live_transport import RECHECK_CLOSE, RESYNC_CLOSE
from web.runtime import WEBSOCKETS
from web.temporal import TemporalHandle

PROTOCOLS = pytest.mark.parametrize("config", [WEBSOCKETS, {}], ids=["hub-writes", "handler-writes"])


async def _signed_in(address: str, username: str) -> tuple[httpx.AsyncClient, str]:
    """A browser signed in: its HTTP client and a CSRF token for its forms."""
    client = httpx.AsyncClient(base_url=f"http://{address}")
    token = CSRF_RE.search((await client.get("/login")).text)
    assert token is not None
    answer = await client.post("/login", data={"username": username, "password": "LienThong@2026", "csrf_token": token[1], "next": "/"})
    assert answer.status_code == 303
    csrf = CSRF_RE.search((await client.get("/meetings")).text)
    assert csrf is not None
    return client, csrf[1]


async def _open(
    address: str, client: httpx.AsyncClient, channels: str, after: int | None = None
) -> tuple[ClientConnection, dict[str, Any]]:
    url = f"ws://{address}/ws?channels={channels}" + (f"&after={after}" if after is not None else "")
    ws = await connect(url, additional_headers={"Cookie": f"lt_session={client.cookies['lt_session']}"})
    hello = json.loads(await asyncio.wait_for(ws.recv(), 10))
    assert hello["kind"] == "hello"
    return ws, hello


async def _until_closed(ws: ClientConnection) -> tuple[list[dict[str, Any]], int | None]:
    """What the socket got until the server closed it, and the close code."""
    got = []
    with contextlib.suppress(ConnectionClosed):
        async for raw in ws:
            got.append(json.loads(raw))
    return got, ws.close_code


async def _next(ws: ClientConnection) -> dict[str, Any]:
    message: dict[str, Any] = json.loads(await asyncio.wait_for(ws.recv(), 10))
    return message


def _all_caught_up(hub: EventHub, count: int, config: dict[str, Any]):  # type: ignore[no-untyped-def]
    """`count` followers, handed over to the hub when the protocol is ours."""
    return lambda: len(hub.subscriptions) == count and (not config or all(s.direct is not None for s in hub.subscriptions))


@PROTOCOLS
async def test_a_participant_removed_from_a_meeting_stops_following_it_at_once(config, demo_db_sqlite, settings) -> None:  # type: ignore[no-untyped-def]
    built = await build_meeting(demo_db_sqlite, settings, starts_in=timedelta(days=1))
    mid, meeting, member_id = built.meeting_id, f"meeting-{built.meeting_id}", built.users["hue.do"]
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    async with serving(app, **config) as address:
        organiser, organiser_csrf = await _signed_in(address, "mai.tran")
        member, _ = await _signed_in(address, "hue.do")
        chair, _ = await _signed_in(address, "lan.nguyen")
        # The member's room asks for the meeting only; the socket follows the user's channel too.
        member_ws, hello = await _open(address, member, meeting)
        assert hello["channels"] == sorted([meeting, user_channel(member_id)])
        chair_ws, _ = await _open(address, chair, meeting)
        await wait_for(_all_caught_up(app.state.hub, 2, config), timeout=10, every=0.01)

        async with demo_db_sqlite.read() as session:
            pid = await session.scalar(
                select(MeetingParticipant.id).where(MeetingParticipant.meeting_id == mid, MeetingParticipant.user_id == member_id)
            )
        answer = await organiser.post(f"/meetings/{mid}/participants/{pid}/remove", data={"csrf_token": organiser_csrf})
        assert answer.status_code == 303

        got, code = await asyncio.wait_for(_until_closed(member_ws), 10)
        assert code == RECHECK_CLOSE and not any(m.get("channel") == meeting for m in got)
        # The page connects again from the last event it saw: the meeting is refused, its own channel
        # kept, and what it missed arrives by its new rights.
        again, rehello = await _open(address, member, f"{meeting},{user_channel(member_id)}", after=hello["seq"])
        assert rehello["channels"] == [user_channel(member_id)]
        assert (await _next(again))["kind"] == ACCESS_CHANGED
        agenda = await publish_one(demo_db_sqlite, channel=meeting, kind="agenda", payload={"n": 1})
        notice = await publish_one(demo_db_sqlite, channel=user_channel(member_id), kind="notification", payload={"unread": 1})
        assert (await _next(again))["seq"] == notice  # the meeting's event, published first, never came
        assert (await _next(chair_ws))["seq"] == agenda  # the chair's socket was not touched
        for ws in (again, chair_ws):
            await ws.close()
        for client in (organiser, member, chair):
            await client.aclose()


@PROTOCOLS
async def test_signing_out_closes_the_users_sockets_and_only_the_ended_sessions_are_refused(config, demo_db_sqlite, settings) -> None:  # type: ignore[no-untyped-def]
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    async with serving(app, **config) as address:
        phone, phone_csrf = await _signed_in(address, "thu.le")
        desk, _ = await _signed_in(address, "thu.le")  # the same person at their desk
        user_id = (await phone.get("/api/me")).json()["id"]
        phone_ws, _ = await _open(address, phone, user_channel(user_id))
        desk_ws, hello = await _open(address, desk, user_channel(user_id))
        await wait_for(_all_caught_up(app.state.hub, 2, config), timeout=10, every=0.01)

        ended = phone.cookies["lt_session"]
        assert (await phone.post("/logout", data={"csrf_token": phone_csrf})).status_code == 303

        for ws in (phone_ws, desk_ws):
            assert (await asyncio.wait_for(_until_closed(ws), 10))[1] == RECHECK_CLOSE
        with pytest.raises(InvalidStatus) as refused:  # the signed-out browser: refused before the handshake
            await connect(
                f"ws://{address}/ws?channels={user_channel(user_id)}",
                additional_headers={"Cookie": f"lt_session={ended}"},
            )
        assert refused.value.response.status_code == 403
        again, _ = await _open(address, desk, user_channel(user_id), after=hello["seq"])  # the desk goes on
        assert (await _next(again))["kind"] == ACCESS_CHANGED
        await again.close()
        for client in (phone, desk):
            await client.aclose()


async def test_an_access_change_between_the_rights_read_and_the_subscription_ends_it(demo_db_sqlite) -> None:
    """A connect reads the user's rights, then subscribes. An access change committed in between
    reaches the new subscription only in its replay: it ends the subscription as a live one would
    (the rights it was admitted on are already stale). One committed before the rights were read
    (the reconnect that follows the close) is only replayed."""
    hub = EventHub(demo_db_sqlite)
    await hub.start()
    try:
        checked_at = hub.last_seq  # the connect's head, read before its rights
        async with demo_db_sqlite.session() as session:
            await access_changed(session, 7)
        await wait_for(lambda: hub.last_seq > checked_at, timeout=10, every=0.01)
        channels = {user_channel(7), "meeting-1"}
        stale = await hub.join(channels, after=checked_at, checked_at=checked_at)
        assert stale.recheck and await stale.next() is None and stale not in hub.subscriptions
        fresh = await hub.join(channels, after=checked_at, checked_at=hub.last_seq)
        assert not fresh.recheck and (await fresh.next()).kind == ACCESS_CHANGED  # type: ignore[union-attr]
        hub.leave(fresh)
    finally:
        await hub.stop()


async def test_a_hub_stopped_under_caught_up_clients_closes_their_sockets(demo_db_sqlite, settings) -> None:
    """Sockets handed over to the hub have no handler waiting on their queue: a hub that stops
    wakes each, which sends `resync` and closes (before, they stayed open and silent)."""
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    async with serving(app, **WEBSOCKETS) as address:
        browser, _ = await _signed_in(address, "thu.le")
        user_id = (await browser.get("/api/me")).json()["id"]
        ws, _ = await _open(address, browser, user_channel(user_id))
        await wait_for(_all_caught_up(app.state.hub, 1, WEBSOCKETS), timeout=10, every=0.01)
        await app.state.hub.stop()
        got, code = await asyncio.wait_for(_until_closed(ws), 10)
        assert [m["kind"] for m in got] == ["resync"] and code == RESYNC_CLOSE
        await browser.aclose()


async def _changes_of(database, user_id: int, since: int) -> int:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        found = await session.scalars(
            select(Event.seq).where(Event.seq > since, Event.channel == user_channel(user_id), Event.kind == ACCESS_CHANGED)
        )
        return len(found.all())


async def test_every_change_of_what_a_user_may_read_closes_their_sockets(demo_db_sqlite, settings) -> None:
    """Each service that changes what a person may read publishes the access change in its own
    transaction: a role given or taken away, a unit's head replaced (the previous one: the unit's
    documents were theirs to see), the account deactivated or moved to another unit, a
    password reset by an administrator (which signs the person out everywhere) or changed by the
    person (the other browsers signed out), a meeting's secretary replaced."""
    from meetings import scheduling

    built = await build_meeting(demo_db_sqlite, settings, starts_in=timedelta(days=1))
    admin = await principal(demo_db_sqlite, "quantri")
    async with demo_db_sqlite.read() as session:
        start = int(await session.scalar(select(Event.seq).order_by(Event.seq.desc()).limit(1)) or 0)
    uid = built.users["thu.le"]

    async def change(action) -> int:  # type: ignore[no-untyped-def]
        before = await _changes_of(demo_db_sqlite, uid, start)
        async with demo_db_sqlite.session() as session:
            user = await session.get_one(User, uid)
            await action(session, user)
        return await _changes_of(demo_db_sqlite, uid, start) - before

    async def give_role(session, user) -> None:  # type: ignore[no-untyped-def]
        await directory.assign_role(session, actor=admin.actor, user=user, organization_id=user.organization_id, role=Role.clerk)

    async def take_role(session, user) -> None:  # type: ignore[no-untyped-def]
        assignment = await session.scalar(
            select(RoleAssignment).where(RoleAssignment.user_id == user.id, RoleAssignment.role == Role.clerk)
        )
        await directory.remove_role(session, actor=admin.actor, assignment=assignment)

    async def rename(session, user) -> None:  # type: ignore[no-untyped-def]
        await directory.update_user(session, actor=admin.actor, user=user, full_name=user.full_name + " A")

    async def deactivate(session, user) -> None:  # type: ignore[no-untyped-def]
        await directory.update_user(session, actor=admin.actor, user=user, active=False)

    async def reset(session, user) -> None:  # type: ignore[no-untyped-def]
        await auth.reset_password(session, actor=admin.actor, user=user, password="Mật-khẩu-mới-2026!")

    async def own(session, user) -> None:  # type: ignore[no-untyped-def]
        await auth.change_own_password(
            session, actor=admin.actor, user=user, current="Mật-khẩu-mới-2026!", new="Khác-hẳn-2026!x", keep_session_id=None
        )

    async def head_replaced(session, user) -> None:  # type: ignore[no-untyped-def]
        unit = await session.get_one(Unit, user.unit_id)
        await directory.set_unit_head(session, actor=admin.actor, unit=unit, user=user)  # thu.le heads her unit
        await directory.set_unit_head(session, actor=admin.actor, unit=unit, user=None)  # and no longer

    changes = [await change(a) for a in (give_role, take_role, rename, head_replaced, deactivate, reset, own)]
    assert changes == [1, 1, 0, 1, 1, 1, 1]

    organiser = await principal(demo_db_sqlite, "mai.tran")
    secretary = built.users["ngoc.vo"]
    before = await _changes_of(demo_db_sqlite, secretary, start)
    async with demo_db_sqlite.session() as session:
        meeting = await session.get_one(Meeting, built.meeting_id)
        await scheduling.update_details(
            session,
            principal=organiser,
            meeting_id=built.meeting_id,
            title=meeting.title,
            description=meeting.description,
            mode=meeting.mode,
            place=meeting.place,
            video_url=meeting.video_url,
            secretary_id=built.users["hanh.pham"],
        )
    assert await _changes_of(demo_db_sqlite, secretary, start) == before + 1


@PROTOCOLS
async def test_a_socket_is_closed_when_its_session_ends(config, demo_db_sqlite, settings) -> None:  # type: ignore[no-untyped-def]
    """A session lasts `session_hours` from its sign-in; a tab left open past that was followed
    for as long as its socket stayed up. Now the hub closes it when the session ends (at its next
    poll), and the page's reconnect is refused: it says the session has ended."""
    app = create_app(settings=settings, database=demo_db_sqlite, temporal=TemporalHandle(settings))
    async with serving(app, **config) as address:
        browser, _ = await _signed_in(address, "thu.le")
        user_id = (await browser.get("/api/me")).json()["id"]
        async with demo_db_sqlite.session() as session:
            await session.execute(
                update(UserSession).where(UserSession.user_id == user_id).values(expires_at=utcnow() + timedelta(seconds=3))
            )
        ws, _ = await _open(address, browser, user_channel(user_id))
        assert (await asyncio.wait_for(_until_closed(ws), 15))[1] == RECHECK_CLOSE
        with pytest.raises(InvalidStatus) as refused:
            await connect(
                f"ws://{address}/ws?channels={user_channel(user_id)}",
                additional_headers={"Cookie": f"lt_session={browser.cookies['lt_session']}"},
            )
        assert refused.value.response.status_code == 403
        await browser.aclose()


async def test_a_sessions_end_is_kept_once_however_often_its_phone_reconnects(demo_db_sqlite) -> None:
    """The hub keeps one entry per session's end, not one per socket: a phone that reconnects all
    day adds nothing; at the end, the followers of that session are ended and the entry goes."""
    hub = EventHub(demo_db_sqlite)
    until = utcnow() + timedelta(hours=12)
    for _ in range(100):
        hub.leave(await hub.join({user_channel(7)}, until=until))
    kept = await hub.join({user_channel(7)}, until=until)
    other = await hub.join({user_channel(8)}, until=until + timedelta(hours=1))
    assert len(hub._ends) == 2
    hub._end_sessions(until)
    assert kept.recheck and not other.recheck and hub.subscriptions == {other} and len(hub._ends) == 1
