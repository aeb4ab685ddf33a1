"""The dashboard's figures equal counts computed directly from the database for a seeded set."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from sqlalchemy import select, text

from dashboard import queries
from meetings.models import Meeting, MeetingMode, MeetingStatus
from services.directory.models import Organization, User
from services.incoming.models import IncomingDocument, IncomingFile
from services.outgoing.models import OutgoingDocument
from services.outgoing.models import Status as OutStatus


def _at(day: date, hour: int = 9) -> datetime:
    return datetime(day.year, day.month, day.day, hour, tzinfo=UTC)


async def _seed(db) -> tuple[set[int], queries.Period]:  # type: ignore[no-untyped-def]
    """Documents and meetings spread over 2026 in the province subtree (and one outside the period)."""
    async with db.session() as session:
        orgs = {o.code: o.id for o in (await session.scalars(select(Organization))).all()}
        user = await session.scalar(select(User.id).where(User.username == "lan.nguyen"))
        ids = [orgs["hlhpn-bentre"], orgs["hlhpn-chauthanh"], orgs["hlhpn-phukhuong"]]
        for i in range(30):
            org = ids[i % 3]
            arrival = date(2026, 1 + i % 6, 1 + i % 27)
            done = i % 3 != 0
            due = arrival + timedelta(days=5)
            completed = _at(arrival + timedelta(days=3 if i % 2 else 8)) if done else None
            doc = IncomingDocument(
                organization_id=org,
                status="done" if done else "in_progress",
                source="system" if i % 4 == 0 else "manual",
                arrival_number=i + 1,
                arrival_year=2026,
                arrival_date=arrival,
                issuer_name="UBND tỉnh",
                number_notation=f"{i + 1}/UBND",
                document_date=arrival,
                doc_type="CV",
                subject=f"Văn bản {i}",
                due_date=due,
                completed_at=completed,
                registered_at=_at(arrival, 2),
                created_at=_at(arrival, 1),
            )
            doc.files = [
                IncomingFile(
                    position=0,
                    is_main=True,
                    filename="a.pdf",
                    content_type="application/pdf",
                    size=1,
                    sha256="0" * 64,
                    signatures_ok=(i % 5 == 0),
                )
            ]
            session.add(doc)
        for i in range(12):
            session.add(
                OutgoingDocument(
                    organization_id=ids[i % 3],
                    drafter_id=user,
                    signer_id=user,
                    doc_type="CV",
                    subject=f"Công văn {i}",
                    status=OutStatus.issued,
                    issued_at=_at(date(2026, 1 + i % 5, 10)),
                    issue_date=date(2026, 1 + i % 5, 10),
                    issued_pdf_sha="1" * 64 if i % 6 else None,
                    signed_at=_at(date(2026, 1 + i % 5, 9)) if i % 4 else None,
                )
            )
        for i in range(9):
            start = _at(date(2026, 2 + i % 4, 15))
            session.add(
                Meeting(
                    organization_id=ids[i % 3],
                    title=f"Họp {i}",
                    chair_id=user,
                    starts_at=start,
                    ends_at=start + timedelta(hours=2),
                    mode=[MeetingMode.online, MeetingMode.in_person, MeetingMode.hybrid][i % 3],
                    status=MeetingStatus.cancelled if i == 8 else MeetingStatus.closed,
                    projector_token=f"tok-{i}",
                    created_by=user,
                )
            )
    return set(ids), queries.Period(date(2026, 1, 1), date(2026, 6, 30))


async def test_dashboard_figures_equal_direct_counts(demo_db) -> None:
    org_ids, period = await _seed(demo_db)
    inlist = ",".join(str(i) for i in org_ids)
    async with demo_db.session() as session:
        docs = await queries.documents_per_month(session, org_ids=org_ids, period=period)
        shares = await queries.electronic_share(session, org_ids=org_ids, period=period)
        units = await queries.incoming_handling_by_unit(session, org_ids=org_ids, period=period, today=date(2026, 7, 1))
        times = await queries.handling_time_per_month(session, org_ids=org_ids, period=period)
        meets = await queries.meetings_by_mode(session, org_ids=org_ids, period=period)

        async def scalar(sql: str) -> int:
            return int((await session.execute(text(sql))).scalar() or 0)

        assert sum(r.incoming for r in docs) == await scalar(
            f"SELECT count(*) FROM incoming_documents WHERE organization_id IN ({inlist}) "
            "AND arrival_date BETWEEN '2026-01-01' AND '2026-06-30'"
        )
        for row in docs:
            y, m = row.month.split("-")
            assert row.incoming == await scalar(
                f"SELECT count(*) FROM incoming_documents WHERE organization_id IN ({inlist}) AND arrival_date >= '{y}-{m}-01' "
                f"AND arrival_date < '{int(y) + (m == '12')}-{(int(m) % 12) + 1:02d}-01'"
            )
            assert row.outgoing == await scalar(
                f"SELECT count(*) FROM outgoing_documents WHERE organization_id IN ({inlist}) AND issued_at IS NOT NULL "
                f"AND issue_date >= '{y}-{m}-01' AND issue_date < '{int(y) + (m == '12')}-{(int(m) % 12) + 1:02d}-01'"
            )
        incoming, outgoing = shares
        assert incoming.total == 30 and outgoing.total == 12
        assert incoming.signed == await scalar(
            f"SELECT count(DISTINCT d.id) FROM incoming_documents d JOIN incoming_files f ON f.document_id = d.id "
            f"WHERE d.organization_id IN ({inlist}) AND f.signatures_ok"
        )
        assert incoming.electronic == await scalar(
            f"SELECT count(*) FROM incoming_documents d WHERE d.organization_id IN ({inlist}) AND (d.source = 'system' OR "
            "EXISTS (SELECT 1 FROM incoming_files f WHERE f.document_id = d.id AND f.signatures_ok))"
        )
        assert outgoing.electronic == await scalar(
            f"SELECT count(*) FROM outgoing_documents WHERE organization_id IN ({inlist}) AND issued_pdf_sha IS NOT NULL"
        )
        assert outgoing.signed == await scalar(
            f"SELECT count(*) FROM outgoing_documents WHERE organization_id IN ({inlist}) AND issued_pdf_sha IS NOT NULL "
            "AND signed_at IS NOT NULL"
        )
        done = await scalar(f"SELECT count(*) FROM incoming_documents WHERE organization_id IN ({inlist}) AND status = 'done'")
        assert sum(u.on_time + u.late for u in units) == done == sum(t.done for t in times)
        assert sum(u.overdue_open for u in units) == await scalar(
            f"SELECT count(*) FROM incoming_documents WHERE organization_id IN ({inlist}) AND status = 'in_progress' "
            "AND due_date < '2026-07-01'"
        )
        # Done in 3 days (odd i) is on time against a 5-day due date; 8 days (even i) is late.
        assert sum(u.on_time for u in units) == sum(1 for i in range(30) if i % 3 and i % 2)
        for mode in ("online", "hybrid", "in_person"):
            assert sum(getattr(m, mode) for m in meets) == await scalar(
                f"SELECT count(*) FROM meetings WHERE organization_id IN ({inlist}) AND mode = '{mode}' AND status <> 'cancelled'"
            )


async def test_dashboard_page_shows_charts_tables_and_csv(demo_db_sqlite, client_for) -> None:
    from tests.helpers import sign_in

    await _seed(demo_db_sqlite)
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "lan.nguyen")
    page = await client.get("/dashboard?start=2026-01-01&end=2026-06-30")
    assert page.status_code == 200
    assert page.text.count("<svg") >= 5 and "Văn bản đến và đi theo tháng" in page.text
    csv_file = await client.get("/dashboard/export/documents.csv?start=2026-01-01&end=2026-06-30")
    assert csv_file.status_code == 200 and "Tháng" in csv_file.content.decode("utf-8-sig")
    empty = await client.get("/dashboard?start=2020-01-01&end=2020-03-31")
    assert "Chưa có văn bản nào" in empty.text
