"""Small helpers for tests that drive the web app like a browser would."""

from __future__ import annotations

import asyncio
import inspect
import os
import random
import re
import socket
import uuid
from collections.abc import Iterator
from contextlib import asynccontextmanager, contextmanager

import httpx
import pytest

from demo.directory import DEMO_PASSWORD

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
# The payload key ring of test settings and test clients (a test key, public on purpose): the
# recorded replay histories that are encrypted were sealed with it too.
TEST_PAYLOAD_KEYS = "test-1:dGVzdC1rZXktb2YtbGllbi10aG9uZy10ZXN0cy0zMmI="


def free_port() -> int:
    """A port free right now, for a server started later (maybe restarted on it). Taken below the
    kernel's ephemeral range (32768-60999): a port from there may meanwhile become the local end
    of some outgoing connection, and the server cannot bind it (seen: a restarted Temporal dev
    server whose UI port had been taken)."""
    while True:
        port = random.randint(20000, 32000)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port


@asynccontextmanager
async def serving(app, **config):  # type: ignore[no-untyped-def]
    """`app` served by a real uvicorn on a free port for the block; yields "127.0.0.1:<port>"."""
    import uvicorn

    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning", timeout_graceful_shutdown=1, **config))
    app.state.uvicorn = server  # its connections, for tests that look at the server's side
    task = asyncio.create_task(server.serve())
    while not server.started:  # started, or failed (then the task holds why)
        if task.done():
            task.result()
            raise RuntimeError("uvicorn stopped before it started")
        await asyncio.sleep(0.05)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


def app_client(client):  # type: ignore[no-untyped-def]
    """`client`'s connection (a test server's time-skipping interceptor kept) with the app's data
    converter (pydantic, encrypted with TEST_PAYLOAD_KEYS), as `lienthong worker` builds it."""
    from temporalio.client import Client

    from services.codec import encrypted_converter, parse_key_ring

    return Client(**{**client.config(), "data_converter": encrypted_converter(parse_key_ring(TEST_PAYLOAD_KEYS))})


async def csrf_of(client: httpx.AsyncClient, path: str) -> str:
    page = await client.get(path)
    match = CSRF_RE.search(page.text)
    assert match, f"no CSRF token on {path} ({page.status_code})"
    return match.group(1)


async def sign_in(client: httpx.AsyncClient, username: str, password: str = DEMO_PASSWORD) -> httpx.Response:
    token = await csrf_of(client, "/login")
    return await client.post("/login", data={"username": username, "password": password, "csrf_token": token, "next": "/"})


async def post_form(client: httpx.AsyncClient, path: str, data: dict[str, str], *, page: str = "/") -> httpx.Response:
    token = await csrf_of(client, page)
    return await client.post(path, data={**data, "csrf_token": token})


@asynccontextmanager
async def worker_with_relay(client, settings, database, prefix: str, interceptors=()):  # type: ignore[no-untyped-def]
    """A worker on a task queue of its own with the outbox relay beside it, as in `lienthong worker`."""
    from datetime import timedelta

    from workflows.context import ActivityContext
    from workflows.relay import OutboxRelay
    from workflows.worker import build_worker

    queue = f"{prefix}-{uuid.uuid4().hex[:8]}"
    settings.task_queue = queue
    relay = asyncio.create_task(OutboxRelay(client, database, settings, poll=timedelta(milliseconds=200), reconcile_every=None).run())
    try:
        async with build_worker(client, task_queue=queue, context=ActivityContext(settings, database), interceptors=interceptors) as worker:
            yield worker
    finally:
        relay.cancel()
        await asyncio.gather(relay, return_exceptions=True)


async def end_earlier_workflows(client, *prefixes: str) -> None:  # type: ignore[no-untyped-def]
    """Terminate the running workflows whose IDs start with one of `prefixes`: IDs repeat across
    the fresh databases of tests on the session's one Temporal server, and a start that finds an
    earlier test's workflow still running joins it (the relay's USE_EXISTING) instead of running."""
    for prefix in prefixes:
        async for wf in client.list_workflows(f"WorkflowId STARTS_WITH '{prefix}' AND ExecutionStatus = 'Running'"):
            try:
                await client.get_workflow_handle(wf.id).terminate("previous test")
            except Exception:  # noqa: BLE001 - ended meanwhile
                pass


async def send(client, settings, kind: str, object_id: int, signal: str | None = "changed", *args) -> None:  # type: ignore[no-untyped-def]
    """Deliver one command now, the way the outbox relay does (tests that drive workflows directly)."""
    from services.outbox.service import Command
    from workflows.relay import deliver

    await deliver(client, settings, Command(0, kind, object_id, signal, list(args), 0))


async def wait_for(predicate, timeout: float = 60.0, every: float = 0.2):  # type: ignore[no-untyped-def]
    """Call `predicate()` (awaiting it when it is a coroutine function) until it returns something
    true (returned); a condition, not a duration."""
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        value = predicate()
        if inspect.isawaitable(value):
            value = await value
        if value:
            return value
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not reached in time")
        await asyncio.sleep(every)


def sqlite_write_lock_is_free(path: str, timeout: float = 1.0) -> bool:
    """Whether a writer gets SQLite's write lock within `timeout` seconds (a probe connection)."""
    import sqlite3

    probe = sqlite3.connect(path, timeout=timeout, isolation_level=None)
    try:
        probe.execute("BEGIN IMMEDIATE")
        probe.execute("ROLLBACK")
        return True
    except sqlite3.OperationalError:
        return False
    finally:
        probe.close()


def skip_or_fail_without(reason: str) -> None:
    """A tool for an interoperability test is missing: skip on a developer's machine, fail under
    CI, where `make deps` installs it (a skipped check there would pass without checking)."""
    if os.environ.get("CI", "").lower() in ("1", "true", "yes"):
        pytest.fail(f"{reason}: CI must have it", pytrace=False)
    pytest.skip(reason)


async def other_waits_on_a_lock_or_is_done(database, pid: list[int], done: asyncio.Event, timeout: float = 30) -> None:  # type: ignore[no-untyped-def]
    """Until the other PostgreSQL session (its backend `pid`, once known) waits for a row lock,
    or has finished (`done`): how a concurrency test holds one session while the other runs."""
    from sqlalchemy import text

    async with asyncio.timeout(timeout):
        while not done.is_set():
            if pid:
                async with database.engine.connect() as probe:
                    waiting = await probe.scalar(text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid[0]})
                if waiting == "Lock":
                    return
            await asyncio.sleep(0.02)  # polling a condition, not waiting for time to pass


async def publish_one(database, *, channel: str, kind: str, payload: dict) -> int:  # type: ignore[no-untyped-def,type-arg]
    """Publish one event in a transaction of its own and return its sequence number, given at the
    commit (services/appends.py): the channel's last event, when nothing else publishes on it."""
    from sqlalchemy import func, select

    from services.events.models import Event
    from services.events.service import publish

    async with database.session() as session:
        await publish(session, channel=channel, kind=kind, payload=payload)
    async with database.read() as session:
        return int(await session.scalar(select(func.max(Event.seq)).where(Event.channel == channel)) or 0)


@contextmanager
def statements_of(database) -> Iterator[list[str]]:  # type: ignore[no-untyped-def]
    """The SQL statements the database is sent meanwhile, whitespace folded."""
    from sqlalchemy import event

    seen: list[str] = []

    def record(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        seen.append(" ".join(statement.split()))

    event.listen(database.engine.sync_engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", record)
