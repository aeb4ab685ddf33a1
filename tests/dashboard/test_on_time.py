"""The dashboard and the incoming statistics page count "handled on time" the same way, and show
their numbers in the page's language."""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select

from dashboard import queries
from dashboard.charts import Series, bar_chart, column_chart
from services.calendar import vn_today
from services.directory.models import Organization, Unit, User
from services.incoming import service as incoming
from services.incoming.handling import Tally
from services.incoming.models import IncomingDocument
from tests.helpers import sign_in
from tests.incoming.conftest import principal

YEAR = vn_today().year - 1  # a past year: every due date below has passed, whatever today is


async def _seed(db) -> int:  # type: ignore[no-untyped-def]
    """In one organisation: 5 done on time (2 without a due date), 2 done late, 2 overdue, 1 open
    without a due date, 1 still awaiting direction (not counted). Rate: 5 / 9 = 55.6 %. Two are
    done near midnight: the Vietnam date counts (UTC+7), not the UTC one."""
    async with db.session() as session:
        org = await session.scalar(select(Organization).where(Organization.code == "hlhpn-bentre"))
        unit = await session.scalar(select(Unit).where(Unit.organization_id == org.id, Unit.code == "VP"))  # type: ignore[union-attr]
        officer = await session.scalar(select(User).where(User.username == "thu.le"))
        arrival = date(YEAR, 3, 2)
        due = arrival + timedelta(days=10)

        def at(day: date) -> datetime:
            return datetime(day.year, day.month, day.day, 3, tzinfo=UTC)

        cases = [
            ("done", due, at(due)),
            ("done", due, at(due - timedelta(days=4))),
            ("done", None, at(due + timedelta(days=30))),
            ("done", None, at(arrival)),
            ("done", due, at(due + timedelta(days=1))),
            ("done", due, datetime(due.year, due.month, due.day, 17, 30, tzinfo=UTC)),  # 00:30 the next day in Vietnam: late
            ("done", due, datetime(due.year, due.month, due.day, 16, 59, tzinfo=UTC)),  # 23:59 on the due date in Vietnam: on time
            ("in_progress", due, None),
            ("directed", due, None),
            ("in_progress", None, None),
            ("awaiting_direction", due, None),
        ]
        for i, (status, due_date, completed) in enumerate(cases):
            session.add(
                IncomingDocument(
                    organization_id=org.id,
                    status=status,
                    arrival_number=i + 1,
                    arrival_year=YEAR,
                    arrival_date=arrival,  # type: ignore[union-attr]
                    issuer_name="UBND tỉnh",
                    number_notation=f"{i + 1}/UBND",
                    document_date=arrival,
                    doc_type="CV",
                    subject=f"Văn bản {i}",
                    due_date=due_date,
                    completed_at=completed,
                    registered_at=at(arrival),
                    # The lead is the unit for some, a person (counted in their unit) for others.
                    lead_unit_id=unit.id if i % 2 else None,
                    lead_user_id=None if i % 2 else officer.id,  # type: ignore[union-attr]
                )
            )
        return org.id  # type: ignore[union-attr]


async def test_dashboard_and_statistics_count_on_time_the_same(demo_db) -> None:
    org_id = await _seed(demo_db)
    leader = await principal(demo_db, "lan.nguyen")
    async with demo_db.session() as session:
        stats = await incoming.unit_statistics(session, principal=leader, organization_id=org_id, year=YEAR)
        units = await queries.incoming_handling_by_unit(
            session, org_ids={org_id}, period=queries.Period(date(YEAR, 1, 1), date(YEAR, 12, 31))
        )
    figures = ("on_time", "late", "overdue_open", "open")
    # The same figures per unit (the statistics page lists units by name, the dashboard by rate).
    assert sorted(tuple(getattr(s, k) for k in figures) for s in stats) == sorted(tuple(getattr(u, k) for k in figures) for u in units)
    assert tuple(sum(getattr(s, k) for s in stats) for k in figures) == (5, 2, 2, 1)
    assert sorted(s.rate for s in stats) == sorted(u.rate for u in units)  # type: ignore[type-var]
    assert round(Tally(on_time=4, late=1, overdue_open=2).rate, 3) == 0.571  # type: ignore[arg-type]


def _text(html: str) -> str:
    return re.sub(r"[ \t\r\n]+", " ", re.sub(r"<[^>]+>", " ", html))  # keeps the no-break space before %


async def test_pages_show_the_same_rate_in_each_language(demo_db_sqlite, client_for) -> None:
    await _seed(demo_db_sqlite)
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "lan.nguyen")
    for lang, rate in (("vi", "55,6\u00a0%"), ("en", "55.6%")):
        client.cookies.set("lt_lang", lang)
        board = _text((await client.get(f"/dashboard?start={YEAR}-01-01&end={YEAR}-12-31")).text)
        stats = _text((await client.get(f"/incoming/stats?year={YEAR}")).text)
        label = "Văn bản đến xử lý đúng hạn" if lang == "vi" else "Incoming handled on time"
        assert f"{label} {rate}" in board, board[board.find(label) - 20 : board.find(label) + 80]
        assert rate in stats and "5 2 2 1 " + rate in stats  # the total row: on time, late, overdue, open, rate
        assert ("100.0%" if lang == "vi" else "100,0") not in board + stats  # one language's numbers per page


def test_count_axes_have_whole_number_ticks() -> None:
    svg = column_chart(title="t", categories=["01/2026", "02/2026"], series=[Series("a", [1, 0])], locale="vi")
    ticks = re.findall(r'text-anchor="end" fill="#5b6472">([^<]+)<', svg)
    assert ticks == ["0", "1", "2", "3", "4"]
    svg = bar_chart(title="t", labels=["Văn phòng"], series=[Series("a", [7]), Series("b", [3])], locale="en")
    assert re.findall(r'text-anchor="middle" fill="#5b6472">([^<]+)<', svg) == ["0", "5", "10", "15", "20"]
    days = column_chart(title="t", categories=["01/2026"], series=[Series("a", [1.5])], integer=False, locale="vi")
    assert "1,5" in days
