"""One lock order on PostgreSQL (services/db.py): domain rows, then register counters, then the
audit head, then the event head.

Representative flows run with every row-locking statement recorded per transaction, and each
transaction must take its rows in that order; a concurrency test replays the inversion that
incoming documents had (an opinion audited before touching the document, against a direction
that changes the document before auditing), which PostgreSQL answered with `deadlock detected`.
"""

from __future__ import annotations

import asyncio
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from sqlalchemy import event, text

from meetings import attendance, polls, scheduling
from meetings.models import PollOption, PollVisibility, Threshold
from services.db import LOCK_ORDER, Database, utcnow
from services.incoming import service as incoming
from services.reports import service as reports
from tests.incoming.conftest import direct_to, register
from tests.incoming.conftest import principal as incoming_principal
from tests.meetings.factory import CHAIR, MEMBERS, build_meeting
from tests.meetings.factory import principal as meeting_principal
from tests.reports.factory import bulk_orgs, create_request, submit
from tests.reports.factory import principal as report_principal

pytestmark = pytest.mark.postgres

# A part's row may be locked after the heads when its root's row is held (services/db.py).
ROOTS = {
    "meeting_units": "meetings",
    "meeting_participants": "meetings",
    "meeting_agenda_items": "meetings",
    "meeting_speakers": "meetings",
    "meeting_polls": "meetings",
    "meeting_poll_options": "meeting_polls",
    "meeting_poll_voters": "meeting_polls",
    "outgoing_recipients": "outgoing_documents",
}
_WRITE = re.compile(r"^\s*(?:UPDATE\s+(\w+)|DELETE\s+FROM\s+(\w+))", re.I)
_SELECT = re.compile(r"\bFROM\s+(\w+)", re.I)
_BY_ID = re.compile(r"WHERE (\w+)\.id = \$(\d+)")
_INSERT = re.compile(r"^\s*INSERT INTO (\w+)", re.I)


def _rank(table: str) -> int:
    """Domain tables 0 (those named in LOCK_ORDER in their order), then counters and heads."""
    return LOCK_ORDER.index(table) if table in LOCK_ORDER else 0


@dataclass
class Transaction:
    locks: list[tuple[str, object]] = field(default_factory=list)  # (table, row id or None: some rows)
    created: set[str] = field(default_factory=set)  # tables with rows inserted here (nobody else sees them yet)
    problems: list[str] = field(default_factory=list)

    def take(self, table: str, row: object) -> None:
        held = {t for t, _ in self.locks}
        again = (table, row) in self.locks or (table in held and (row is None or (table, None) in self.locks))
        covered = again or ROOTS.get(table) in held or table in self.created
        if not covered and self.locks:
            top = max(self.locks, key=lambda lock: _rank(lock[0]))
            if _rank(top[0]) > _rank(table):
                self.problems.append(f"{table} locked after {top[0]}: {' > '.join(t for t, _ in self.locks)} > {table}")
        self.locks.append((table, row))


class LockRecorder:
    """Records, per transaction of one database, the rows its statements lock."""

    def __init__(self, database: Database) -> None:
        self.engine = database.engine.sync_engine
        self.done: list[Transaction] = []
        self.listeners = [("begin", self._begin), ("before_cursor_execute", self._execute), ("commit", self._end), ("rollback", self._end)]

    def __enter__(self) -> LockRecorder:
        for name, fn in self.listeners:
            event.listen(self.engine, name, fn)
        return self

    def __exit__(self, *exc: object) -> None:
        for name, fn in self.listeners:
            event.remove(self.engine, name, fn)

    def _begin(self, conn: Any) -> None:
        conn.info["lock_order"] = Transaction()

    def _execute(self, conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:
        tx = conn.info.get("lock_order")
        if tx is None:
            return
        inserted = _INSERT.match(statement)
        if inserted:
            tx.created.add(inserted.group(1))
            return
        written = _WRITE.match(statement)
        if written:
            table = written.group(1) or written.group(2)
        elif statement.lstrip().upper().startswith("SELECT") and re.search(r"FOR (NO KEY )?UPDATE", statement, re.I):
            table = _SELECT.search(statement).group(1)  # type: ignore[union-attr]
        else:
            return
        by_id = _BY_ID.search(statement)
        row = parameters[int(by_id.group(2)) - 1] if by_id and by_id.group(1) == table and not executemany else None
        tx.take(table, row)

    def _end(self, conn: Any) -> None:
        tx = conn.info.pop("lock_order", None)
        if tx is not None:
            self.done.append(tx)

    def problems(self) -> list[str]:
        return [p for tx in self.done for p in tx.problems]


@pytest.fixture
async def demo_db_pg(db_templates, tmp_path, settings):  # type: ignore[no-untyped-def]
    from tests.conftest import _database

    async for database in _database(db_templates, "postgresql", tmp_path, settings, demo=True):
        yield database


def test_the_checker_sees_a_domain_row_taken_after_the_audit_head() -> None:
    tx = Transaction()
    for lock in [("incoming_documents", 1), ("register_counters", None), ("audit_head", 1), ("incoming_documents", 1), ("event_head", 1)]:
        tx.take(*lock)
    assert tx.problems == []
    late = Transaction()
    for lock in [("audit_head", 1), ("incoming_documents", 1)]:
        late.take(*lock)
    assert late.problems == ["incoming_documents locked after audit_head: audit_head > incoming_documents"]
    crossed = Transaction()
    for lock in [("report_requests", 1), ("outgoing_documents", 2)]:
        crossed.take(*lock)
    assert crossed.problems, "outgoing documents come before report requests"
    meeting = Transaction()
    for lock in [("meetings", 1), ("audit_head", 1), ("meeting_units", 4), ("event_head", 1)]:
        meeting.take(*lock)
    assert meeting.problems == []


async def test_representative_flows_take_their_rows_in_the_declared_order(demo_db_pg, settings) -> None:
    db = demo_db_pg
    with LockRecorder(db) as recorder:
        # Incoming: register (number, then audit), direct, an opinion, progress, the result.
        doc = await register(db, settings)
        await direct_to(db, doc.id)
        leader, lead = await incoming_principal(db, "lan.nguyen"), await incoming_principal(db, "thu.le")
        async with db.session() as session:
            await incoming.add_opinion(session, principal=leader, document_id=doc.id, body="Lưu ý tiến độ.")
        async with db.session() as session:
            await incoming.record_progress(session, principal=lead, document_id=doc.id, body="Đang thực hiện.")
        async with db.session() as session:
            await incoming.complete(session, principal=lead, document_id=doc.id, result="Đã hoàn thành.")
        # Outgoing and reports: the request's letter issued (number, seal, the request opens), the
        # letter delivered to a target's register, every target reports (the last completes it).
        orgs = await bulk_orgs(db, 2, prefix="lockorder")
        req = await create_request(db, settings, orgs, deadline=utcnow() + timedelta(days=3))
        async with db.session() as session:
            await reports.deliver(session, settings=settings, request_id=req.id, organization_id=orgs[0])
        officer = await report_principal(db, "lockorder.officer")
        for oid in orgs:
            await submit(db, settings, req.id, oid, officer)
        # A meeting: opened, members check in, a vote is cast and closed.
        built = await build_meeting(db, settings)
        chair = await meeting_principal(db, CHAIR)
        members = [await meeting_principal(db, name) for name in MEMBERS[:2]]
        async with db.session() as session:
            await scheduling.open_meeting(session, principal=chair, meeting_id=built.meeting_id)
        for member in members:
            async with db.session() as session:
                await attendance.check_in(session, principal=member, meeting_id=built.meeting_id)
        async with db.session() as session:
            poll = await polls.open_poll(
                session,
                principal=chair,
                meeting_id=built.meeting_id,
                question="Thông qua chương trình?",
                visibility=PollVisibility.named,
                threshold=Threshold.majority_present,
            )
            options = {o.key: o.id for o in await polls_options(session, poll.id)}
        for voter in [chair, *members]:
            async with db.session() as session:
                await polls.vote(session, principal=voter, meeting_id=built.meeting_id, poll_id=poll.id, option_id=options["yes"])
        async with db.session() as session:
            await polls.close_poll(session, principal=chair, meeting_id=built.meeting_id, poll_id=poll.id)
    async with db.read() as session:
        assert (await reports.get_request(session, request_id=req.id)).status == "completed"
    tables = {t for tx in recorder.done for t, _ in tx.locks}
    assert {"incoming_documents", "outgoing_documents", "report_requests", "report_targets", "meetings", "meeting_polls"} <= tables
    assert {"register_counters", "audit_head", "event_head"} <= tables
    assert recorder.problems() == [], "\n".join(recorder.problems())


async def polls_options(session: Any, poll_id: int) -> list[PollOption]:
    from sqlalchemy import select

    return list((await session.scalars(select(PollOption).where(PollOption.poll_id == poll_id))).all())


async def test_an_opinion_and_a_direction_of_one_document_do_not_deadlock(demo_db_pg, settings, monkeypatch) -> None:
    """The opinion holds the audit head; the direction then changes the document and waits for
    the head; the opinion goes on to touch the document. Before the document was locked ahead of
    the audit head this was a deadlock every time; now the direction waits for the document."""
    db = demo_db_pg
    real_record = incoming.record
    opinion_holds_head: asyncio.Event
    direction_went_on: asyncio.Event
    direction_pid: list[int] = []

    async def record(session: Any, **kwargs: Any) -> Any:
        role = session.info.get("lock_test")
        if role == "direction":
            await session.flush()  # the document's row: taken here, or waited for
            direction_went_on.set()
        entry = await real_record(session, **kwargs)
        if role == "opinion":
            opinion_holds_head.set()
            await direction_holds_or_waits()
        return entry

    async def direction_holds_or_waits() -> None:
        """Until the direction has changed the document, or waits for a lock held by the opinion."""
        async with asyncio.timeout(30):
            while not direction_went_on.is_set():
                if direction_pid:
                    async with db.engine.connect() as probe:
                        waiting = await probe.scalar(
                            text("SELECT wait_event_type FROM pg_stat_activity WHERE pid = :pid"), {"pid": direction_pid[0]}
                        )
                    if waiting == "Lock":
                        return
                await asyncio.sleep(0.02)  # polling a condition, not waiting for time to pass

    monkeypatch.setattr(incoming, "record", record)
    leader = await incoming_principal(db, "lan.nguyen")
    lead_id = (await incoming_principal(db, "hue.do")).user.id
    for attempt in range(3):
        opinion_holds_head, direction_went_on = asyncio.Event(), asyncio.Event()
        direction_pid.clear()
        doc = await register(db, settings, notation=f"{20 + attempt}/KH-UBND")
        await direct_to(db, doc.id)

        async def opinion(document_id: int = doc.id) -> None:
            async with db.session() as session:
                session.info["lock_test"] = "opinion"
                await incoming.add_opinion(session, principal=leader, document_id=document_id, body="Ý kiến.")

        async def direction(document_id: int = doc.id) -> None:
            await opinion_holds_head.wait()
            async with db.session() as session:
                session.info["lock_test"] = "direction"
                direction_pid.append(await session.scalar(text("SELECT pg_backend_pid()")))
                await incoming.direct(
                    session,
                    principal=leader,
                    document_id=document_id,
                    instruction="Giao lại.",
                    handlers=incoming.Handlers(lead_user_id=lead_id),
                )

        async with asyncio.timeout(60):
            await asyncio.gather(opinion(), direction())
        async with db.read() as session:
            assert (await incoming.get_for(session, principal=leader, document_id=doc.id))[0].lead_user_id == lead_id
