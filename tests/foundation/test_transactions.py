"""Transactions that never wedge: pages read without the write lock, a lock wait has a deadline
(503 in Vietnamese, nothing half-done), /healthz never waits behind users, and requests cancelled
at any point leave no transaction open."""

from __future__ import annotations

import asyncio
import random
import sqlite3

import pytest
from sqlalchemy import func, select

from services.audit.models import AuditEntry
from services.db import Database, set_database
from tests.helpers import csrf_of, sign_in, sqlite_write_lock_is_free


def _sqlite_path(database: Database) -> str:
    return database.url.split(":///", 1)[1]


def _hold_write_lock(path: str) -> sqlite3.Connection:
    holder = sqlite3.connect(path, timeout=5, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    return holder


@pytest.fixture
async def quick_db(demo_db_sqlite: Database):  # type: ignore[no-untyped-def]
    """The demo directory on SQLite with a short lock deadline (the default is 15 s)."""
    database = Database(demo_db_sqlite.url, lock_timeout=0.5)
    set_database(database)
    yield database
    await database.dispose()


async def test_pages_and_healthz_answer_while_a_writer_holds_the_lock(quick_db, client_for) -> None:
    client = await client_for(quick_db)
    await sign_in(client, "mai.tran")
    holder = _hold_write_lock(_sqlite_path(quick_db))
    try:
        for path in ("/", "/incoming/to-register", "/outgoing", "/notifications", "/account"):
            response = await client.get(path)
            assert response.status_code == 200, path
        health = (await client.get("/healthz")).json()
        assert health["checks"]["database"] is True
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_workflow_snapshots_read_while_a_writer_holds_the_lock(quick_db, settings) -> None:
    """The snapshot activities write nothing: they must not queue for the write lock (a report
    fan-out's children each read their target while the deliveries write)."""
    from services.reports.models import ReportTarget
    from tests.api.test_tasks_api import _task
    from tests.incoming.conftest import register
    from tests.reports.factory import create_request, org_id
    from workflows.context import ActivityContext
    from workflows.incoming.activities import IncomingActivities
    from workflows.kernel_activities import KernelActivities, TrackedRef
    from workflows.tasks.activities import TaskActivities

    doc_id = (await register(quick_db, settings)).id
    task_id = await _task(quick_db, "Tổng hợp số liệu")
    request = await create_request(quick_db, settings, [await org_id(quick_db, "hlhpn-tpbentre")])
    async with quick_db.read() as session:
        target_id = await session.scalar(select(ReportTarget.id).where(ReportTarget.request_id == request.id))
    context = ActivityContext(settings, quick_db)
    holder = _hold_write_lock(_sqlite_path(quick_db))
    try:  # past the 0.5 s lock deadline each would fail "busy" if it asked for the lock
        kernel = KernelActivities(context)
        for kind, object_id in (("incoming", doc_id), ("task", task_id), ("report_target", target_id)):
            assert (await kernel.snapshot(TrackedRef(kind=kind, object_id=object_id))).object_id == object_id
        assert (await IncomingActivities(context).snapshot(doc_id)).document_id == doc_id
        assert (await TaskActivities(context).snapshot(task_id)).task_id == task_id
    finally:
        holder.execute("ROLLBACK")
        holder.close()


async def test_a_write_past_the_lock_deadline_is_told_busy_and_leaves_nothing(quick_db, client_for) -> None:
    client = await client_for(quick_db)
    await sign_in(client, "mai.tran")
    token = await csrf_of(client, "/account")
    async with quick_db.read() as session:
        entries_before = await session.scalar(select(func.count()).select_from(AuditEntry))
    holder = _hold_write_lock(_sqlite_path(quick_db))
    try:
        response = await client.post("/account/tokens", data={"csrf_token": token, "name": "bận"})
        assert response.status_code == 503
        assert "Hệ thống đang bận" in response.text
        assert response.headers["retry-after"] == "5"
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    async with quick_db.read() as session:
        assert await session.scalar(select(func.count()).select_from(AuditEntry)) == entries_before
    # and once the lock is free the same action goes through
    response = await client.post("/account/tokens", data={"csrf_token": token, "name": "rảnh"})
    assert response.status_code in (200, 303)


async def test_read_only_sessions_refuse_writes(demo_db) -> None:
    from services.directory.models import Organization

    with pytest.raises(Exception):
        async with demo_db.read() as session:
            org = await session.scalar(select(Organization))
            org.name = "đổi tên"
            await session.flush()
    async with demo_db.read() as session:
        assert "đổi tên" not in [o.name for o in (await session.scalars(select(Organization))).all()]


async def test_a_postgresql_read_is_one_snapshot_begun_read_only_without_a_statement_of_its_own(demo_db_pg) -> None:
    """Every page and hub poll reads in `Database.read()`: on PostgreSQL its isolation
    and read-only mode go in the BEGIN (asyncpg), not in a SET TRANSACTION round trip of its own;
    a write transaction on the same pooled connection afterwards is READ COMMITTED and writes."""
    from sqlalchemy import event, text

    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(demo_db_pg.engine.sync_engine, "before_cursor_execute", seen)
    try:
        for _ in range(2):
            async with demo_db_pg.read() as session:
                assert await session.scalar(text("SHOW transaction_isolation")) == "repeatable read"
                assert await session.scalar(text("SHOW transaction_read_only")) == "on"
            async with demo_db_pg.session() as session:
                assert await session.scalar(text("SHOW transaction_isolation")) == "read committed"
                assert await session.scalar(text("SHOW transaction_read_only")) == "off"
    finally:
        event.remove(demo_db_pg.engine.sync_engine, "before_cursor_execute", seen)
    assert not [s for s in statements if "SET TRANSACTION" in s]


async def test_a_postgresql_lookup_sends_its_selects_and_nothing_else(demo_db_pg) -> None:
    """`Database.lookup` (the live channel's connect): on PostgreSQL no BEGIN, ROLLBACK or ping
    goes to the server around or before its statements (a read() sends all three: a connect made
    five round trips for its one SELECT), and its connections still refuse writes."""
    from sqlalchemy import event, text
    from sqlalchemy.exc import DBAPIError

    from services.db import Database

    sent: list[str] = []  # what asyncpg sends outside prepared statements: BEGIN, ROLLBACK, the ping

    def log_queries(dbapi_connection, _record) -> None:  # type: ignore[no-untyped-def]
        dbapi_connection.driver_connection.add_query_logger(lambda record: sent.append(record.query))

    selects: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        selects.append(statement)

    def watch(database: Database) -> None:
        for engine in (database.engine, database.lookup_engine):
            assert engine is not None
            event.listen(engine.sync_engine, "connect", log_queries)
            event.listen(engine.sync_engine, "before_cursor_execute", seen)

    async def ids(connection) -> tuple[int, str]:  # type: ignore[no-untyped-def]
        return await connection.scalar(text("SELECT pg_backend_pid()")), await connection.scalar(text("SHOW transaction_read_only"))

    database = Database(demo_db_pg.url)
    watch(database)
    try:
        first = await database.lookup(ids)
        second = await database.lookup(ids)
        assert first == second and first[1] == "on"  # the kept connection again, read-only
        assert len(selects) == 4 and sent == [], sent
        with pytest.raises(DBAPIError, match="read-only transaction"):
            await database.lookup(lambda connection: connection.execute(text("CREATE TABLE nothing (id int)")))
        async with database.read() as session:  # what a read() sends, for comparison
            await session.scalar(text("SELECT 1"))
        assert [q.split()[0].rstrip(";") for q in sent] == ["BEGIN", "ROLLBACK"], sent
    finally:
        await database.dispose()


async def test_a_connection_that_alternates_reads_and_writes_keeps_each_mode(demo_db_sqlite) -> None:
    """SQLite's read-only pragma is set only when a pooled connection changes use (services.db):
    after a write a read still refuses writes, after reads a write still writes."""
    from services.directory.models import Organization

    class Undo(Exception):
        pass

    for _ in range(3):
        with pytest.raises(Undo):
            async with demo_db_sqlite.session() as session:
                org = await session.scalar(select(Organization).order_by(Organization.id))
                org.name = "đổi tên"
                await session.flush()  # written (then rolled back): the connection writes
                raise Undo
        for _ in range(2):
            with pytest.raises(Exception, match="readonly"):
                async with demo_db_sqlite.read() as session:
                    org = await session.scalar(select(Organization).order_by(Organization.id))
                    org.name = "đổi tên"
                    await session.flush()
    assert demo_db_sqlite.engine.pool.checkedout() == 0
    async with demo_db_sqlite.read() as session:
        assert "đổi tên" not in [o.name for o in (await session.scalars(select(Organization))).all()]


async def test_requests_cancelled_at_random_points_leave_the_database_writable(demo_db_sqlite, client_for) -> None:
    """Pages, forms and API calls cancelled mid-flight (a client gone, a proxy timeout) roll back
    and return their connection; afterwards a writer gets the lock at once."""
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "mai.tran")
    token = await csrf_of(client, "/account")
    requests = [
        lambda: client.get("/"),
        lambda: client.get("/incoming"),
        lambda: client.get("/healthz"),
        lambda: client.get("/api/v1/me"),
        lambda: client.post("/account/tokens", data={"csrf_token": token, "name": "hủy"}),
        lambda: client.post("/incoming", data={"csrf_token": token, "subject": "x"}),
    ]
    chance = random.Random(20261202)
    for trial in range(300):
        tasks = [asyncio.create_task(chance.choice(requests)()) for _ in range(chance.randint(1, 4))]
        await asyncio.sleep(chance.random() * 0.05)  # cancel each batch at a different point
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if trial % 50 == 49:
            assert sqlite_write_lock_is_free(_sqlite_path(demo_db_sqlite)), f"after {trial + 1} batches the lock is held"
    assert sqlite_write_lock_is_free(_sqlite_path(demo_db_sqlite))
    async with asyncio.timeout(5):  # the pool still hands out working connections
        async with demo_db_sqlite.session() as session:
            assert await session.scalar(select(func.count()).select_from(AuditEntry)) > 0
    assert (await client.get("/healthz")).json()["checks"]["database"] is True
