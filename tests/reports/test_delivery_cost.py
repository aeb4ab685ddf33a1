"""What a report delivery costs the database: the fan-out to a province's thousand organisations
is made of these, one after another (bench/bench_fanout.py)."""

from __future__ import annotations

from datetime import timedelta

from services.db import utcnow
from services.reports import service as reports
from tests.helpers import statements_of
from tests.reports.factory import bulk_orgs, create_request
from workflows.context import ActivityContext
from workflows.reports.activities import ReportActivities, TargetsRef

TARGETS = 10


def _reads(statements: list[str], table: str) -> int:
    return len([s for s in statements if s.startswith("SELECT") and f" FROM {table} " in f"{s} "])


async def test_a_batch_of_deliveries_reads_what_they_share_once_and_writes_the_heads_once(demo_db, settings) -> None:
    orgs = await bulk_orgs(demo_db, TARGETS)
    req = await create_request(demo_db, settings, orgs, deadline=utcnow() + timedelta(days=3))
    with statements_of(demo_db) as statements:
        async with demo_db.session() as session:
            delivered, refused = await reports.deliver_many(session, settings=settings, request_id=req.id, organization_ids=orgs)
    assert sorted(delivered) == sorted(orgs) and not refused
    # The sender once for the batch, each recipient once (before: three reads a delivery).
    assert _reads(statements, "organizations") == 1 + TARGETS
    # Each recipient row once (before: its id, then the row).
    assert _reads(statements, "outgoing_recipients") == TARGETS
    # A delivery's two audit entries and four events are written with the commit, the heads
    # updated once for all of them (before: five statements an entry and event a delivery).
    assert len([s for s in statements if s.startswith("UPDATE audit_head")]) == 2
    assert len([s for s in statements if s.startswith("UPDATE event_head")]) == 1
    assert len(statements) < 30 * TARGETS, f"{len(statements) / TARGETS:.1f} statements a delivery"  # 44 before, 27 now


async def test_tracking_a_batch_reads_the_request_once(demo_db, settings) -> None:
    orgs = await bulk_orgs(demo_db, TARGETS)
    req = await create_request(demo_db, settings, orgs, deadline=utcnow() + timedelta(days=3))
    async with demo_db.session() as session:
        await reports.deliver_many(session, settings=settings, request_id=req.id, organization_ids=orgs)
    with statements_of(demo_db) as statements:
        tracked = await ReportActivities(ActivityContext(settings, demo_db)).tracked(TargetsRef(request_id=req.id, organization_ids=orgs))
    assert sorted(tracked) == sorted(orgs)
    assert all(snap.rungs and not snap.closed for snap in tracked.values())
    assert _reads(statements, "report_requests") == 1  # before: once a target
    assert _reads(statements, "report_targets") == 1
