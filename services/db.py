"""Database engine, sessions and the declarative base shared by every domain's models.

The same code runs on SQLite (embedded default) and PostgreSQL (production).
"""

from __future__ import annotations

import asyncio
import contextvars
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import datetime, timezone

from sqlalchemy import DateTime, MetaData, event
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker, create_async_engine
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
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect: object) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=timezone.utc)
        return value.astimezone(timezone.utc)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime()}


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def make_engine(url: str) -> AsyncEngine:
    """Create the async engine; SQLite gets WAL, a busy timeout and write-ahead locking."""
    if make_url(url).get_backend_name() != "sqlite":
        return create_async_engine(url, pool_pre_ping=True, pool_size=10, max_overflow=20)

    # Writers queue for SQLite's single write lock; with hundreds of activities in flight (report
    # fan-out) the queue can be longer than a minute, and waiting beats failing.
    engine = create_async_engine(url, connect_args={"timeout": 300})

    @event.listens_for(engine.sync_engine, "connect")
    def _on_connect(dbapi_connection, _record):  # type: ignore[no-untyped-def]
        # Let SQLAlchemy, not the driver, decide when transactions begin (see _on_begin).
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA busy_timeout=300000")
        cursor.close()
        # Accent-insensitive search (services.textsearch); PostgreSQL does it in SQL.
        dbapi_connection.create_function("lt_fold", 1, fold, deterministic=True)

    @event.listens_for(engine.sync_engine, "invalidate")
    def _on_invalidate(dbapi_connection, _record, _exc):  # type: ignore[no-untyped-def]
        # A task cancelled mid-statement (worker shutdown, activity timeout, client gone) makes
        # SQLAlchemy close the connection with that statement unfinished. SQLite then keeps the
        # connection as a "zombie" that holds its write lock until the garbage collector frees the
        # statement, and every other writer waits. Rolling back first releases the lock at once.
        try:
            dbapi_connection.rollback()
        except (Exception, asyncio.CancelledError):  # noqa: BLE001 - closed already, or cancelled again while
            pass  # the first cancellation is still on its way up: the close that follows still runs

    @event.listens_for(engine.sync_engine, "begin")
    def _on_begin(conn):  # type: ignore[no-untyped-def]
        # BEGIN IMMEDIATE takes the write lock up front. With deferred transactions two writers
        # that both read first would fail with SQLITE_BUSY instead of waiting their turn, which
        # would break serialised appends (audit chain, register numbers).
        conn.exec_driver_sql("BEGIN IMMEDIATE")

    return engine


_in_transaction: contextvars.ContextVar[bool] = contextvars.ContextVar("in_transaction", default=False)


class NestedTransactionError(RuntimeError):
    """A second transaction opened while this task holds one: it would wait for a lock the
    first one holds (SQLite's write lock, PostgreSQL's audit head row) and deadlock."""


class Database:
    """An engine plus its session factory; one per process (or per test database)."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.engine = make_engine(url)
        self.sessionmaker = async_sessionmaker(self.engine, expire_on_commit=False)

    @property
    def is_sqlite(self) -> bool:
        return self.engine.dialect.name == "sqlite"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session whose transaction commits on success and rolls back on error.

        One per task at a time: inside a request use the request's session; a failed attempt
        that must stay recorded raises `DomainError.record_after_rollback(...)` instead.
        """
        if _in_transaction.get():
            raise NestedTransactionError("a transaction is already open in this task")
        token = _in_transaction.set(True)
        try:
            async with self.sessionmaker() as session:
                async with session.begin():
                    yield session
        finally:
            _in_transaction.reset(token)

    async def dispose(self) -> None:
        await self.engine.dispose()


_database: Database | None = None


def get_database() -> Database:
    """The process-wide database built from settings."""
    global _database
    if _database is None:
        from services.config import get_settings

        _database = Database(get_settings().sqlalchemy_url)
    return _database


def set_database(database: Database | None) -> None:
    """Replace the process-wide database (tests, `dev`)."""
    global _database
    _database = database
