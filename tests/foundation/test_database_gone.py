"""A database that goes away (restarted, crashed, cut off) is answered with 503 "try again in a
moment", not a bare 500, and the pool reconnects by itself once it is back. The whole restart,
with real processes, is in the fault harness (`python -m bench.faults --postgres`)."""

from __future__ import annotations

import socket

import httpx
import pytest
from sqlalchemy import text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import create_async_engine

from services.db import Database, is_unreachable_error


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def test_an_unreachable_database_answers_503_asking_to_try_again(settings) -> None:
    from web.app import create_app

    database = Database(f"postgresql+asyncpg://postgres@127.0.0.1:{_closed_port()}/nothing")
    app = create_app(settings=settings, database=database)
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 5000))
    # A signed-in browser: the page looks its session up first. (Without a cookie the sign-in page
    # reads nothing: a read transaction that runs no statement does not connect.)
    async with httpx.AsyncClient(
        transport=transport, base_url="http://testserver", headers={"accept": "text/html"}, cookies={"lt_session": "abc"}
    ) as web:
        page = await web.get("/login")
        assert page.status_code == 503
        assert page.headers["retry-after"] == "5"
        assert "Tạm thời mất kết nối tới cơ sở dữ liệu" in page.text
        api = await web.get("/login", headers={"accept": "application/json"})
        assert api.status_code == 503 and api.json()["error"] == 503
    await database.dispose()


@pytest.mark.postgres
async def test_a_killed_connection_is_recognised_and_the_pool_reconnects(db_templates, tmp_path) -> None:
    """The server ends our backend mid-transaction (as a restart does): the statement fails as
    "unreachable" and the next transaction gets a fresh connection instead of the dead one."""
    database = Database(await db_templates.copy("postgresql", False, tmp_path / "unused"))
    killer = create_async_engine(database.url)
    try:
        with pytest.raises(DBAPIError) as failure:
            async with database.read() as session:
                pid = await session.scalar(text("SELECT pg_backend_pid()"))
                async with killer.connect() as connection:
                    assert await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
                await session.execute(text("SELECT 1"))
        assert is_unreachable_error(failure.value), repr(failure.value)
        async with database.read() as session:  # a fresh connection, not the dead one
            assert await session.scalar(text("SELECT 1")) == 1
    finally:
        await database.dispose()
        await killer.dispose()


@pytest.mark.postgres
async def test_a_lookup_on_a_connection_the_server_ended_runs_again_on_a_new_one(db_templates, tmp_path) -> None:
    """`Database.lookup` pings no connection before use (the live channel's connect, thousands at
    once): one the server ended meanwhile (a restart) fails its first statement, and the lookup
    runs again, once, on a new connection — the caller sees its answer, not the error."""
    database = Database(await db_templates.copy("postgresql", False, tmp_path / "unused"))
    killer = create_async_engine(database.url)
    calls = 0

    async def backend(connection) -> int:  # type: ignore[no-untyped-def]
        nonlocal calls
        calls += 1
        return int(await connection.scalar(text("SELECT pg_backend_pid()")))

    try:
        first = await database.lookup(backend)
        assert await database.lookup(backend) == first  # kept in the pool
        async with killer.connect() as connection:
            assert await connection.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": first})
        calls = 0
        again = await database.lookup(backend)
        assert again != first and calls == 2
    finally:
        await database.dispose()
        await killer.dispose()


@pytest.mark.postgres
async def test_a_lookup_that_fails_or_is_cancelled_mid_statement_leaves_its_connection_behind(db_templates, tmp_path) -> None:
    """`Database.lookup` keeps its connections open between lookups; one whose lookup failed, or
    was cancelled while its statement ran (a phone gone during its connect), is in a state nobody
    knows: it is closed — the server's backend ends — and the next lookup opens a new one."""
    import asyncio

    from tests.helpers import wait_for

    database = Database(await db_templates.copy("postgresql", False, tmp_path / "unused"))
    watcher = create_async_engine(database.url)

    async def backend(connection) -> int:  # type: ignore[no-untyped-def]
        return int(await connection.scalar(text("SELECT pg_backend_pid()")))

    async def state(pid: int) -> str | None:
        async with watcher.connect() as connection:
            return await connection.scalar(text("SELECT state FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})  # type: ignore[no-any-return]

    async def broken(connection) -> None:  # type: ignore[no-untyped-def]
        await connection.scalar(text("SELECT 1 / 0"))

    try:
        first = await database.lookup(backend)
        assert await database.lookup(backend) == first  # kept
        sleeping = asyncio.create_task(database.lookup(lambda connection: connection.scalar(text("SELECT pg_sleep(60)"))))
        await wait_for(lambda: _in_state(state, first, "active"), timeout=10, every=0.05)  # its statement runs
        sleeping.cancel()
        with pytest.raises(asyncio.CancelledError):
            await sleeping
        await wait_for(lambda: _in_state(state, first, None), timeout=10, every=0.05)  # its backend ended
        second = await database.lookup(backend)
        assert second != first
        with pytest.raises(DBAPIError, match="division by zero"):
            await database.lookup(broken)
        await wait_for(lambda: _in_state(state, second, None), timeout=10, every=0.05)
        assert await database.lookup(backend) not in (first, second)
    finally:
        await database.dispose()
        await watcher.dispose()


async def _in_state(state, pid: int, expected: str | None) -> bool:  # type: ignore[no-untyped-def]
    return await state(pid) == expected


@pytest.mark.postgres
async def test_a_deadlock_postgresql_breaks_is_answered_busy_try_again_not_500(db_templates, tmp_path, settings) -> None:
    """Two transactions locking two rows in opposite orders: PostgreSQL rolls one back (40P01).
    Nothing of it was saved, so the user is told the system is busy and to try again (503)."""
    import asyncio

    from services.db import is_busy_error
    from web.app import create_app

    database = Database(await db_templates.copy("postgresql", False, tmp_path / "unused"))
    first, second = create_async_engine(database.url), create_async_engine(database.url)
    async with first.begin() as setup:
        await setup.execute(text("CREATE TABLE lock_pair (id int PRIMARY KEY, n int)"))
        await setup.execute(text("INSERT INTO lock_pair VALUES (1, 0), (2, 0)"))
    both_hold = asyncio.Barrier(2)

    async def cross(engine, mine: int, theirs: int) -> None:  # type: ignore[no-untyped-def]
        async with engine.begin() as connection:
            await connection.execute(text("UPDATE lock_pair SET n = n + 1 WHERE id = :i"), {"i": mine})
            await both_hold.wait()
            await connection.execute(text("UPDATE lock_pair SET n = n + 1 WHERE id = :i"), {"i": theirs})

    outcomes = await asyncio.gather(cross(first, 1, 2), cross(second, 2, 1), return_exceptions=True)
    failures = [o for o in outcomes if isinstance(o, BaseException)]
    assert len(failures) == 1 and isinstance(failures[0], DBAPIError) and is_busy_error(failures[0]), outcomes
    deadlock = failures[0]

    app = create_app(settings=settings, database=database)

    async def broken() -> None:
        raise deadlock

    app.add_api_route("/deadlock", broken)
    transport = httpx.ASGITransport(app=app, client=("10.1.2.3", 5000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers={"accept": "text/html"}) as web:
        page = await web.get("/deadlock")
        assert page.status_code == 503 and page.headers["retry-after"] == "5"
        assert "Hệ thống đang bận" in page.text
    await first.dispose()
    await second.dispose()
    await database.dispose()
