"""Appends written at commit (services/appends.py): the audit entries and live events a transaction
makes are written with its commit, the head rows taken only then, once each."""

from __future__ import annotations

import asyncio

import pytest
from sqlalchemy import event, select

from services.audit import service as audit
from services.audit.models import AuditEntry
from services.audit.service import Actor
from services.db import Database
from services.events import service as events
from services.events.models import Event


async def _actions(database: Database, after: int = 0) -> list[str]:
    async with database.read() as session:
        return list((await session.scalars(select(AuditEntry.action).where(AuditEntry.seq > after).order_by(AuditEntry.seq))).all())


async def _kinds(database: Database) -> list[str]:
    async with database.read() as session:
        return list((await session.scalars(select(Event.kind).order_by(Event.seq))).all())


# SQLite's write transactions take its one write lock when they begin: they queue whatever they do.
@pytest.mark.parametrize("backend", ["postgresql"], indirect=True)
async def test_a_transaction_that_appended_holds_no_head_until_it_commits(database, settings) -> None:
    """Before, a transaction's first audit entry took the audit head until its commit, and every
    other writer waited for all of it. Now a second writer commits while the first is still open;
    the chain and the events follow the commits' order."""
    first_appended, second_committed = asyncio.Event(), asyncio.Event()

    async def first() -> None:
        async with database.session() as session:
            await audit.record(session, actor=Actor.system("first"), action="test.first")
            await events.publish(session, channel="meeting-1", kind="first", payload={})
            first_appended.set()
            await asyncio.wait_for(second_committed.wait(), 30)  # the head held here: never set

    async def second() -> None:
        await first_appended.wait()
        async with database.session() as session:
            await audit.record(session, actor=Actor.system("second"), action="test.second")
            await events.publish(session, channel="meeting-1", kind="second", payload={})
        second_committed.set()

    await asyncio.gather(first(), second())
    assert await _actions(database) == ["test.second", "test.first"]
    assert await _kinds(database) == ["second", "first"]
    async with database.read() as session:
        report = await audit.verify_database(session, data_dir=settings.data_dir)
    assert report.ok and report.entries_checked == 2, report


async def test_a_commit_takes_each_head_once_however_many_appends(database, settings) -> None:
    """Ten entries and ten events cost each head one update at commit (before: one, or two, each)."""
    statements: list[str] = []

    def seen(conn, cursor, statement, parameters, context, executemany) -> None:  # type: ignore[no-untyped-def]
        statements.append(statement)

    event.listen(database.engine.sync_engine, "before_cursor_execute", seen)
    try:
        async with database.session() as session:
            for i in range(10):
                await audit.record(session, actor=Actor.system("bulk"), action="test.bulk", details={"i": i})
                await events.publish(session, channel="meeting-1", kind="bulk", payload={"i": i})
            assert not [s for s in statements if "_head" in s], "nothing is written before the commit"
    finally:
        event.remove(database.engine.sync_engine, "before_cursor_execute", seen)
    assert len([s for s in statements if s.lstrip().startswith("UPDATE audit_head")]) == 2  # the seq taken, the last hash
    assert len([s for s in statements if s.lstrip().startswith("UPDATE event_head")]) == 1
    assert len([s for s in statements if "INSERT INTO audit_entries" in s]) == 1
    async with database.read() as session:
        report = await audit.verify_database(session, data_dir=settings.data_dir)
        assert report.ok and report.entries_checked == 10, report
        seqs = list((await session.scalars(select(Event.seq).order_by(Event.seq))).all())
    assert seqs == list(range(seqs[0], seqs[0] + 10))


async def test_appends_inside_a_rolled_back_savepoint_go_with_it(database, settings) -> None:
    async with database.session() as session:
        await audit.record(session, actor=Actor.system("t"), action="test.outer")
        async with session.begin_nested():
            await audit.record(session, actor=Actor.system("t"), action="test.released")
            await events.publish(session, channel="meeting-1", kind="released", payload={})
        with pytest.raises(RuntimeError):
            async with session.begin_nested():
                await audit.record(session, actor=Actor.system("t"), action="test.dropped")
                async with session.begin_nested():
                    await events.publish(session, channel="meeting-1", kind="dropped", payload={})
                raise RuntimeError("refused")
        await events.publish(session, channel="meeting-1", kind="after", payload={})
    assert await _actions(database) == ["test.outer", "test.released"]
    assert await _kinds(database) == ["released", "after"]

    with pytest.raises(RuntimeError):
        async with database.session() as session:
            await audit.record(session, actor=Actor.system("t"), action="test.never")
            await events.publish(session, channel="meeting-1", kind="never", payload={})
            raise RuntimeError("abandon")
    assert await _actions(database) == ["test.outer", "test.released"]
    assert await _kinds(database) == ["released", "after"]
    async with database.read() as session:
        report = await audit.verify_database(session, data_dir=settings.data_dir)
    assert report.ok and report.entries_checked == 2, report


async def test_a_read_only_transaction_cannot_append(database) -> None:
    """A read ends in a rollback, which would drop an entry without a word: it is refused at once
    (before, its head UPDATE failed in the read-only transaction)."""
    for append in (
        lambda session: audit.record(session, actor=Actor.system("t"), action="test.read"),
        lambda session: events.publish(session, channel="meeting-1", kind="read", payload={}),
    ):
        with pytest.raises(RuntimeError, match="read-only"):
            async with database.read() as session:
                await append(session)
    assert await _actions(database) == [] and await _kinds(database) == []
