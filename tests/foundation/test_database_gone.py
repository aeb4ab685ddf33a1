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
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", headers={"accept": "text/html"}) as web:
        page = await web.get("/login")  # the sign-in page looks for a session first
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
