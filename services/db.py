"""Database engine, sessions and the declarative base shared by every domain's models.

The same code runs on SQLite (embedded default) and PostgreSQL (production).

Lock order. On PostgreSQL a write transaction holds every row it locks (SELECT … FOR UPDATE, an
UPDATE or DELETE, an ORM flush) until it commits; two transactions that take the same rows in
opposite orders deadlock. Every transaction takes its rows in this order (`LOCK_ORDER`):

1. the domain rows it changes, an aggregate's root before its parts (a meeting before its
   participants, units, agenda, speakers and polls; a poll before its options and voters), and
   across domains: report targets, then outgoing documents, then report requests; the other
   domains' rows (incoming documents, meetings, minutes…) come before those three, except rows
   the transaction itself inserted, which nobody else can be waiting for;
2. register counters (`services.registers.next_number`);
3. at commit (services/appends.py), after a final flush of everything above: the statistics'
   roll-up rows in key order, the audit head (the entries `audit.record` appended), the event
   head (the events `events.publish` appended).

The heads are global: whoever holds one makes every other writer wait. Taken only by the commit,
they are held for its few statements, and nothing is locked after them.
tests/foundation/test_lock_order.py checks it.
SQLite has one write lock for the whole database and needs none of this.
"""

from __future__ import annotations

import asyncio
import contextvars
import traceback
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from datetime import UTC, datetime
from typing import TypeVar

import anyio
from sqlalchemy import DateTime, MetaData, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
from sqlalchemy.orm import DeclarativeBase
from sqlalchemy.types import TypeDecorator

from services.textsearch import fold

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on both backends (SQLite stores naive values)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    return datetime.now(UTC)


READ_ONLY = "lienthong_read_only"
# Lookups at once (`Database.lookup`), and the connections of their own pool on PostgreSQL.
LOOKUP_CONNECTIONS = 4

# Tables whose rows are locked in this order (see the module docstring); a domain table not named
# here is first of all, like the domain rows listed.
LOCK_ORDER = ("report_targets", "outgoing_documents", "report_requests", "register_counters", "audit_head", "event_head")


def _server_settings(lock_timeout: float, statement_timeout: float) -> dict[str, str]:
    return {
        "lock_timeout": str(int(lock_timeout * 1000)),
        "statement_timeout": str(int(statement_timeout * 1000)),
        "idle_in_transaction_session_timeout": str(int(max(statement_timeout, 60) * 1000)),
        # Short queries only: JIT compiling a plan the planner overestimates (a search over a
        # million documents) took 120 ms of a 20 ms query.
        "jit": "off",
    }


def make_engine(url: str, *, lock_timeout: float = 15.0, statement_timeout: float = 120.0) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL, a bounded busy timeout and write-ahead locking.

    `lock_timeout` bounds how long a statement waits for a lock (SQLite's write lock, a
    PostgreSQL row lock); past it the statement fails and the caller answers "busy, try again"
    instead of hanging. `statement_timeout` bounds any PostgreSQL statement.
    """
    if make_url(url).get_backend_name() != "sqlite":
        server_settings = _server_settings(lock_timeout, statement_timeout)
        return create_async_engine(
            url, pool_pre_ping=True, pool_size=10, max_overflow=20, connect_args={"server_settings": server_settings}
        )

    busy_ms = int(lock_timeout * 1000)
    engine = create_async_engine(url, connect_args={"timeout": lock_timeout})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute(f"PRAGMA busy_timeout={busy_ms}")
        cursor.close()
        # Accent-insensitive search (services.textsearch); PostgreSQL does it in SQL.
        dbapi_connection.create_function("lt_fold", 1, fold, deterministic=True)

    @event.listens_for(engine.sync_engine, "invalidate")
    def _on_invalidate(dbapi_connection, _record, _exc):
        # A task cancelled mid-statement (worker shutdown, activity timeout, client gone) makes
        # SQLAlchemy close the connection with that statement unfinished. SQLite then keeps the
        # connection as a "zombie" that holds its write lock until the garbage collector frees the
        # statement, and every other writer waits. Rolling back first releases the lock at once.
        try:
            dbapi_connection.rollback()
        except (Exception, asyncio.CancelledError):  # noqa: BLE001 - closed already, or cancelled again while
            pass  # the first cancellation is still on its way up: the close that follows still runs

    def _query_only(conn, value: int) -> None:
        # Each statement is a round trip to aiosqlite's thread (bench/bench_live.py: a read cost 12
        # of them), so the pragma is set only when the connection's mode changes. The mode is
        # remembered in the pool's record of this DBAPI connection, which SQLAlchemy clears when
        # the connection is closed or invalidated: a new connection sets it again.
        info = conn.connection.info
        if info.get("query_only") != value:
            info.pop("query_only", None)  # unknown until the pragma has run
            conn.exec_driver_sql(f"PRAGMA query_only={value}")
            info["query_only"] = value

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):
        if conn.get_execution_options().get(READ_ONLY):
            # Readers take no lock in WAL mode: a deferred BEGIN reads a snapshot while writers
            # go on. query_only makes an accidental write fail loudly instead of upgrading the
            # lock (which fails at once with SQLITE_BUSY_SNAPSHOT when another writer was first).
            _query_only(conn, 1)
            conn.exec_driver_sql("BEGIN")
        else:
            # BEGIN IMMEDIATE takes the write lock up front. With deferred transactions two
            # writers that both read first would fail with SQLITE_BUSY instead of waiting their
            # turn, which would break serialised appends (audit chain, register numbers).
            _query_only(conn, 0)
            conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


def is_busy_error(exc: BaseException) -> bool:
    """A wait for a lock (or a statement) that passed its deadline, or a transaction PostgreSQL
    rolled back to break a deadlock or a serialisation conflict: nothing was saved, and trying
    again later is safe."""
    text_ = str(getattr(exc, "orig", exc)).lower()
    code = getattr(getattr(exc, "orig", None), "sqlstate", None) or getattr(getattr(exc, "orig", None), "pgcode", None)
    return (
        "database is locked" in text_
        or "database table is locked" in text_
        or "deadlock detected" in text_
        or code in ("55P03", "57014", "40P01", "40001")
        or "lock timeout" in text_
        or "canceling statement due to statement timeout" in text_
    )


# SQLSTATE classes of a database that went away: connection exceptions, and a server shutting
# down, crashed or still recovering.
_GONE_STATES = ("57P01", "57P02", "57P03")


def is_unreachable_error(exc: BaseException) -> bool:
    """The database went away (restarted, crashed, cut off): the transaction was rolled back by
    the server, or — when the connection broke during COMMIT — it cannot be known whether it
    committed. Trying again once the database is back is what a user can do."""
    if isinstance(exc, DBAPIError) and exc.connection_invalidated:
        return True
    orig = getattr(exc, "orig", None) or exc
    code = getattr(orig, "sqlstate", None) or getattr(orig, "pgcode", None)
    if isinstance(code, str) and (code.startswith("08") or code in _GONE_STATES):
        return True
    if isinstance(orig, OSError) and not isinstance(orig, FileNotFoundError):
        # A refused or reset connection raised by the driver itself, not by other network code.
        frames = traceback.extract_tb(orig.__traceback__)
        return any("/asyncpg/" in f.filename or "/sqlalchemy/" in f.filename for f in frames)
    return False


T = TypeVar("T")
# What a read runs on: a session, or the bare connection of a `Database.lookup` (its statements in
# SQLAlchemy Core; a function both use takes either).
Reader = AsyncSession | AsyncConnection
_in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar("in_transaction", default=False)


class NestedTransactionError(RuntimeError):
    """A second transaction opened while this task holds one: it would wait for a lock the
    first one holds (SQLite's write lock, PostgreSQL's audit head row) and deadlock."""


async def _finish(step: Awaitable[None]) -> None:
    """Run a clean-up step (rollback, close) to its end even while the task is being cancelled.

    Starlette cancels through anyio scopes, which cancel every await again until the task
    leaves the scope; a Temporal activity or `asyncio.timeout` cancels once. An interrupted
    rollback would leave the connection checked out inside its transaction, holding SQLite's
    write lock (or a PostgreSQL row lock) with nobody left to release it. The step runs in its
    own task; a cancellation that arrives meanwhile is delivered once the step is done.
    """
    task = asyncio.ensure_future(step)
    cancelled = False
    with anyio.CancelScope(shield=True):
        while not task.done():
            try:
                await asyncio.shield(task)
            except asyncio.CancelledError:
                cancelled = True
    task.result()
    if cancelled:
        raise asyncio.CancelledError


async def _drop(connection: AsyncConnection) -> None:
    await connection.invalidate()  # closes the driver's connection, whatever it was doing
    await connection.close()


class Database:
    """An engine plus its session factories; one per process (or per test database)."""

    def __init__(self, url: str, *, lock_timeout: float = 15.0, statement_timeout: float = 120.0) -> None:
        self.url = url
        self.engine = make_engine(url, lock_timeout=lock_timeout, statement_timeout=statement_timeout)
        self._probe: AsyncEngine | None = None  # health checks' own connection (see ping)
        # `lookup`'s turns (SQLite), and on PostgreSQL its engine (autocommit, writes refused, no ping
        # before use) and the connections it keeps: None for one not opened yet (or dropped).
        self.lookup_turns = asyncio.Semaphore(LOOKUP_CONNECTIONS)
        self.lookup_engine: AsyncEngine | None = None
        self._lookup_kept: asyncio.LifoQueue[AsyncConnection | None] = asyncio.LifoQueue()
        if not self.is_sqlite:
            settings = _server_settings(lock_timeout, statement_timeout) | {"default_transaction_read_only": "on"}
            self.lookup_engine = create_async_engine(
                url, isolation_level="AUTOCOMMIT", pool_size=LOOKUP_CONNECTIONS, max_overflow=0, connect_args={"server_settings": settings}
            )
            for _ in range(LOOKUP_CONNECTIONS):
                self._lookup_kept.put_nowait(None)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)
        reading: dict[str, object] = {READ_ONLY: True}
        if not self.is_sqlite:
            # REPEATABLE READ: one snapshot for the whole transaction, as on SQLite (WAL); a
            # read-only transaction at this level never fails to serialise. Given to asyncpg, they
            # go in the BEGIN itself: no SET TRANSACTION round trip for every read.
            reading |= {"isolation_level": "REPEATABLE READ", "postgresql_readonly": True}
        self._reading_engine = self.engine.execution_options(**reading)
        self._read_sessionmaker = async_sessionmaker(self._reading_engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    def session(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A write transaction: commits on success, rolls back on error or cancellation.

        One per task at a time: inside a request use the request's session; a failed attempt
        that must stay recorded raises `DomainError.record_after_rollback(...)` instead. Keep it
        short and never await anything but the database inside it (Temporal, OCSP, LibreOffice
        and client sockets come before or after).
        """
        return self._transaction(read_only=False)

    def read(self) -> AbstractAsyncContextManager[AsyncSession]:
        """A read-only transaction: a consistent snapshot that takes no write lock."""
        return self._transaction(read_only=True)

    @asynccontextmanager
    async def _transaction(self, *, read_only: bool) -> AsyncIterator[AsyncSession]:
        async with self._outside_transaction():
            session = (self._read_sessionmaker if read_only else self.sessionmaker)()
            try:
                yield session
                if read_only:
                    await session.rollback()
                else:
                    await session.commit()
            except BaseException:
                await _finish(session.rollback())
                raise
            finally:
                await _finish(session.close())

    async def lookup(self, reads: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        """Run `reads` — a few SELECTs, nothing written — as cheaply as the database allows, for
        what thousands of clients do at once (the live channel's connect, web/live.py).

        `reads` gets a bare connection (SQLAlchemy Core): a statement there costs half of what it
        costs through an ORM session (bench/bench_live.py); a read that needs the ORM binds a
        session to the connection.
        At most `LOOKUP_CONNECTIONS` run at once; the others wait their turn. Thousands of phones
        reconnecting after a restart would otherwise open connections beyond a pool's kept ones,
        each closed again after one read (a TLS context and a login apiece: a third of a connect's
        CPU, bench/bench_live.py), and take the pages' connections.
        On PostgreSQL each statement runs on its own (autocommit: no BEGIN or ROLLBACK round trip,
        no snapshot shared between the statements) on one of `LOOKUP_CONNECTIONS` connections that
        refuse writes, are not pinged before use (the ping was three round trips, one of five a
        lookup made) and are kept open between lookups, not checked in and out of their pool (that
        was 40 % of a lookup's CPU, bench/bench_live.py). A connection found dead instead — the
        server restarted — is dropped, and `reads` runs once more on a new one; one that failed
        otherwise, or whose lookup was cancelled mid-statement, is dropped too (its state unknown).
        On SQLite it runs in a read-only transaction, as `read()`: each statement is a local call there anyway.
        """
        if self.lookup_engine is None:
            async with self.lookup_turns:
                return await self._connected(self._reading_engine, reads)
        async with self._outside_transaction():
            connection = await self._lookup_kept.get()
            try:
                try:
                    connection = connection or await self.lookup_engine.connect()
                    return await reads(connection)
                except DBAPIError as exc:
                    if not exc.connection_invalidated:
                        raise
                if connection is not None:  # SQLAlchemy has invalidated it: its pool forgets it
                    await _finish(connection.close())
                    connection = None
                connection = await self.lookup_engine.connect()
                return await reads(connection)  # once more, on a new connection
            except BaseException:
                if connection is not None:
                    await _finish(_drop(connection))
                    connection = None
                raise
            finally:
                self._lookup_kept.put_nowait(connection)

    async def _connected(self, engine: AsyncEngine, reads: Callable[[AsyncConnection], Awaitable[T]]) -> T:
        # Closing rolls back SQLite's read transaction; SQLAlchemy runs it to its end even when cancelled.
        async with self._outside_transaction(), engine.connect() as connection:
            return await reads(connection)

    @asynccontextmanager
    async def _outside_transaction(self) -> AsyncIterator[None]:
        if _in_transaction.get():
            raise NestedTransactionError("a transaction is already open in this task")
        token = _in_transaction.set(True)
        try:
            yield
        finally:
            _in_transaction.reset(token)

    async def ping(self) -> None:
        """One trivial read for health checks, on a connection of its own: it never waits for the
        users' pool or takes a lock."""
        if self._probe is None:
            self._probe = create_async_engine(self.url, pool_size=1, max_overflow=0, pool_pre_ping=not self.is_sqlite)
        async with self._probe.connect() as connection:
            await connection.execute(text("SELECT 1"))
            await connection.rollback()

    async def dispose(self) -> None:
        await self.engine.dispose()
        if self.lookup_engine is not None:
            while not self._lookup_kept.empty():  # a lookup under way keeps its own: garbage collected
                if (connection := self._lookup_kept.get_nowait()) is not None:
                    await connection.close()
            await self.lookup_engine.dispose()
        if self._probe is not None:
            await self._probe.dispose()


_database: Database | None = None


def get_database() -> Database:
    """The process-wide database built from settings."""
    global _database
    if _database is None:
        from services.config import get_settings

        settings = get_settings()
        _database = Database(
            settings.sqlalchemy_url, lock_timeout=settings.db_lock_timeout_seconds, statement_timeout=settings.db_statement_timeout_seconds
        )
    return _database


def set_database(database: Database | None) -> None:
    """Replace the process-wide database (tests, `dev`)."""
    global _database
    _database = database
