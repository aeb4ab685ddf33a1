"""On PostgreSQL a commit that publishes an event wakes every process's hub at once (NOTIFY);
a hub whose listening connection is cut reconnects and catches up from the table."""

from __future__ import annotations

import asyncio
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import text

from services.db import Database
from services.events.hub import EventHub
from services.events.service import publish

pytestmark = pytest.mark.postgres

REPO = Path(__file__).resolve().parents[2]
NEVER = 3600.0  # the hub's poll never fires during a test: only a notification can wake it


async def _until(condition, timeout: float = 30.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(timeout):
        while not condition():
            await asyncio.sleep(0.02)


@pytest.fixture
async def pg(db_templates, tmp_path):  # type: ignore[no-untyped-def]
    database = Database(await db_templates.copy("postgresql", False, tmp_path / "unused"))
    yield database
    await database.dispose()


@pytest.fixture
async def hub(pg):  # type: ignore[no-untyped-def]
    hub = EventHub(pg, poll_seconds=NEVER, listening_poll_seconds=NEVER)
    await hub.start()
    await _until(lambda: hub.listening)
    yield hub
    await hub.stop()


def _publish_in_another_process(url: str, channel: str) -> None:
    script = textwrap.dedent(
        f"""
        import asyncio
        from services.db import Database
        from services.events.service import publish

        async def main():
            database = Database({url!r})
            async with database.session() as session:
                await publish(session, channel={channel!r}, kind="agenda", payload={{"from": "elsewhere"}})
            await database.dispose()

        asyncio.run(main())
        """
    )
    subprocess.run([sys.executable, "-c", script], cwd=REPO, check=True, timeout=60)


async def test_a_commit_in_another_process_reaches_the_hub_without_waiting_for_a_poll(pg, hub) -> None:
    async with hub.subscribe({"meeting-1"}) as sub:
        await asyncio.to_thread(_publish_in_another_process, pg.url, "meeting-1")
        event = await asyncio.wait_for(sub.queue.get(), 30)
        assert event is not None and event.payload == {"from": "elsewhere"}

        # A rolled-back transaction notifies nobody and leaves nothing to send.
        with pytest.raises(RuntimeError):
            async with pg.session() as session:
                await publish(session, channel="meeting-1", kind="agenda", payload={"rolled": "back"})
                raise RuntimeError("abandon")
        async with pg.session() as session:
            await publish(session, channel="meeting-1", kind="agenda", payload={"kept": True})
        event = await asyncio.wait_for(sub.queue.get(), 30)
        assert event is not None and event.payload == {"kept": True}


async def test_a_hub_whose_listening_connection_is_cut_reconnects_and_catches_up(pg, hub) -> None:
    async with hub.subscribe({"meeting-2"}) as sub:
        async with pg.session() as session:
            listener = await session.scalar(
                text("SELECT pid FROM pg_stat_activity WHERE query LIKE 'LISTEN %' AND datname = current_database()")
            )
            assert listener is not None
            # Published, then the listener is cut before the commit: its notification goes
            # nowhere; only the reconnected hub's catch-up read can find the event.
            await publish(session, channel="meeting-2", kind="agenda", payload={"while": "away"})
            assert await session.scalar(text("SELECT pg_terminate_backend(:pid)"), {"pid": listener})
        event = await asyncio.wait_for(sub.queue.get(), 30)
        assert event is not None and event.payload == {"while": "away"}
        await _until(lambda: hub.listening and hub.listens == 2)

        async with pg.session() as session:  # and it listens again
            await publish(session, channel="meeting-2", kind="agenda", payload={"back": True})
        event = await asyncio.wait_for(sub.queue.get(), 30)
        assert event is not None and event.payload == {"back": True}
