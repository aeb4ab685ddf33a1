"""The statistics' roll-up of finished documents (services.incoming.tally): kept by every change
in its transaction, equal to a count of every document row by row, and filled by its migration
for the documents finished before it."""

from __future__ import annotations

import asyncio
from datetime import UTC, date, datetime, timedelta

import pytest
import sqlalchemy as sa
from sqlalchemy import delete, func, select, update

from services.calendar import vn_today
from services.db import Database, UTCDateTime
from services.incoming import handling, tally
from services.incoming import service as incoming
from services.incoming.models import IncomingDocument, IncomingTally
from services.migrate import upgrade
from tests.conftest import database_at
from tests.incoming.conftest import direct_to, org_id, principal, register

FIGURES = ("on_time", "late", "overdue_open", "open", "days_count")


def _by_unit(rows: list[handling.Handled]) -> dict[tuple[int, int | None], tuple[object, ...]]:
    return {
        (r.organization_id, r.unit_id): (*(getattr(r, k) for k in FIGURES), pytest.approx(r.days_total, abs=1e-6))  # type: ignore[misc]
        for r in rows
    }


async def _figures_and_every_row_counted(database: Database, org: int, start: date, end: date):  # type: ignore[no-untyped-def]
    """The statistics as the pages read them (roll-up and the rest), and the same counted row by
    row: every share taken off the documents and the roll-up emptied, then rolled back."""
    async with database.session() as session:
        read = await handling.handled(session, org_ids=[org], start=start, end=end)
        await session.execute(delete(IncomingTally))
        await session.execute(update(IncomingDocument).values(tally_day=None))
        counted = await handling.handled(session, org_ids=[org], start=start, end=end)
        await session.rollback()
    return read, counted


async def _rolled_up(database: Database, org: int) -> tuple[int, int]:
    async with database.read() as session:
        row = (
            await session.execute(
                select(func.coalesce(func.sum(IncomingTally.on_time), 0), func.coalesce(func.sum(IncomingTally.late), 0)).where(
                    IncomingTally.organization_id == org
                )
            )
        ).one()
    return int(row[0]), int(row[1])


async def test_finishing_documents_rolls_them_up_and_the_figures_equal_a_count_of_every_row(demo_db, settings) -> None:
    org = await org_id(demo_db, "hlhpn-bentre")
    before = await _rolled_up(demo_db, org)
    docs = [await register(demo_db, settings, f"{i}/KH-UBND") for i in range(4)]
    for doc in docs:
        await direct_to(demo_db, doc.id)
    async with demo_db.session() as session:  # the second one's due date passed while it was handled
        await session.execute(
            update(IncomingDocument).where(IncomingDocument.id == docs[1].id).values(due_date=vn_today() - timedelta(days=1))
        )
    lead = await principal(demo_db, "thu.le")
    for doc in (docs[0], docs[1], docs[3]):
        async with demo_db.session() as session:
            await incoming.complete(session, principal=lead, document_id=doc.id, result="Đã tham mưu văn bản trả lời.")
    assert await _rolled_up(demo_db, org) == (before[0] + 2, before[1] + 1)  # two on time, one late

    # Taken back into handling (a correction): its share leaves the roll-up, it is counted as open.
    async with demo_db.session() as session:
        reopened = await session.get(IncomingDocument, docs[3].id)
        assert reopened is not None and reopened.tally_day == reopened.arrival_date and reopened.tally_late is False
        reopened.status = "in_progress"
        await tally.settle(session, reopened)
        assert reopened.tally_day is None
    assert await _rolled_up(demo_db, org) == (before[0] + 1, before[1] + 1)
    async with demo_db.read() as session:
        shares = (
            await session.execute(
                select(IncomingDocument.id, IncomingDocument.tally_late).where(IncomingDocument.id.in_([d.id for d in docs]))
            )
        ).all()
    assert dict(shares) == {docs[0].id: False, docs[1].id: True, docs[2].id: None, docs[3].id: None}

    year = vn_today().year
    read, counted = await _figures_and_every_row_counted(demo_db, org, date(year - 10, 1, 1), date(year, 12, 31))
    assert _by_unit(read) == _by_unit(counted)
    assert sum(r.on_time + r.late for r in read) >= 2  # ours (one on time, one late) among the demo's
    leader = await principal(demo_db, "lan.nguyen")
    async with demo_db.read() as session:
        stats = await incoming.unit_statistics(session, principal=leader, organization_id=org, year=year)
    assert sum(s.on_time for s in stats) >= 1 and sum(s.late for s in stats) >= 1


async def test_the_migration_rolls_up_the_documents_finished_before_it(backend, tmp_path) -> None:
    async with database_at(backend, tmp_path, "0031") as url:
        database = Database(url)
        organizations = sa.table(
            "organizations",
            *(sa.column(c) for c in ("id", "code", "name", "abbreviation", "level", "active")),
            sa.column("created_at", UTCDateTime(timezone=True)),
        )
        columns = ("id", "organization_id", "status", "source", "arrival_series", "arrival_date", "issuer_name", "number_notation")
        documents = sa.table(
            "incoming_documents",
            *(
                sa.column(c)
                for c in (*columns, "doc_type", "subject", "urgency", "secrecy", "revision", "search_text", "due_date", "lead_unit_id")
            ),
            *(sa.column(c, UTCDateTime(timezone=True)) for c in ("created_at", "updated_at", "registered_at", "completed_at")),
        )
        arrived = date(2025, 3, 2)

        def at(day: date, hour: int = 3) -> datetime:
            return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)

        cases = [  # status, due date, completed
            ("done", arrived + timedelta(days=5), at(arrived + timedelta(days=2))),  # on time
            ("done", arrived + timedelta(days=5), at(arrived + timedelta(days=5), 17)),  # 00:00 the next day in Vietnam: late
            ("done", None, at(arrived + timedelta(days=40))),  # no due date: on time
            ("done", arrived, None),  # done without a completion time: not rolled up; row by row, late as of today
            ("in_progress", arrived + timedelta(days=5), None),  # overdue
        ]
        async with database.session() as session:
            await session.execute(
                sa.insert(organizations),
                [{"id": 1, "code": "t", "name": "T", "abbreviation": "T", "level": "province", "active": True, "created_at": at(arrived)}],
            )
            for i, (status, due, done) in enumerate(cases, 1):
                await session.execute(
                    sa.insert(documents).values(
                        id=i,
                        organization_id=1,
                        status=status,
                        source="manual",
                        arrival_series="chung",
                        arrival_date=arrived,
                        issuer_name="UBND",
                        number_notation=f"{i}/UBND",
                        doc_type="CV",
                        subject="S",
                        urgency="normal",
                        secrecy="normal",
                        revision=1,
                        search_text="",
                        due_date=due,
                        lead_unit_id=None,
                        created_at=at(arrived),
                        updated_at=at(arrived),
                        registered_at=at(arrived),
                        completed_at=done,
                    )
                )
        await database.dispose()

        await asyncio.to_thread(upgrade, url)
        database = Database(url)
        assert await _rolled_up(database, 1) == (2, 1)
        read, counted = await _figures_and_every_row_counted(database, 1, date(2025, 1, 1), date(2025, 12, 31))
        assert _by_unit(read) == _by_unit(counted)
        (only,) = read
        assert (only.on_time, only.late, only.overdue_open, only.open) == (2, 2, 1, 0)
        assert only.days_total == pytest.approx(2 + (5 + 14 / 24) + 40)
        await database.dispose()
