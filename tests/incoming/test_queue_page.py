"""Work queues come a page at a time (keyset: after the previous page's last document), most
pressing first, with the queue's length; a document that leaves the queue between two pages makes
the next page neither repeat nor skip anything."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import update

from services.calendar import vn_today
from services.incoming import service as incoming
from services.incoming.models import IncomingDocument
from tests.api.test_incoming_api import _bearer
from tests.helpers import sign_in
from tests.incoming.conftest import direct_to, principal, register

ROW = re.compile(r'<td data-label="Số, ký hiệu"><a href="/incoming/(\d+)"><strong>([^<]+)</strong>')
NEXT = re.compile(r'href="(/incoming/to-direct\?after=\d+)" rel="next"')


async def test_a_leader_pages_through_105_documents_to_direct(demo_db, client_for, settings) -> None:
    db = demo_db
    for i in range(105):
        await register(db, settings, notation=f"{i + 1}/CV-SYT", urgency="urgent" if i == 104 else "normal")
    leader = await client_for(db)
    await sign_in(leader, "lan.nguyen")

    first = await leader.get("/incoming/to-direct")
    assert first.status_code == 200
    rows = ROW.findall(first.text)
    assert len(rows) == incoming.QUEUE_PAGE and rows[0][1] == "105/CV-SYT", "the urgent one first, then the oldest"
    assert [n for _, n in rows[1:4]] == ["1/CV-SYT", "2/CV-SYT", "3/CV-SYT"]
    assert "(105)" in first.text and "Trang sau ›" in first.text and "Trang đầu" not in first.text

    # The last document of the page is directed before the next page is read: it leaves the queue.
    await direct_to(db, int(rows[-1][0]))
    seen = [n for _, n in rows]
    url = NEXT.search(first.text)
    while url:
        page = await leader.get(url.group(1))
        assert page.status_code == 200 and "« Trang đầu" in page.text
        seen += [n for _, n in ROW.findall(page.text)]
        url = NEXT.search(page.text)
    assert sorted(seen) == sorted(f"{i + 1}/CV-SYT" for i in range(105)), "every document once"
    assert "(104)" in page.text, "the count follows the queue"


async def test_tasks_come_by_due_date_a_page_at_a_time_over_the_api(demo_db, client_for, settings) -> None:
    db = demo_db
    today = vn_today()
    dues = [5, -3, 12, 1, -1, 30, 8, 2, 20, 0]  # days from today; negative: overdue
    ids = {}
    for i, days in enumerate(dues):
        doc = await register(db, settings, notation=f"{i + 1}/KH-UBND")
        await direct_to(db, doc.id, due=today + timedelta(days=max(days, 0)))
        ids[doc.id] = days
    async with db.session() as session:  # time passed: some are overdue now
        for doc_id, days in ids.items():
            await session.execute(
                update(IncomingDocument).where(IncomingDocument.id == doc_id).values(due_date=today + timedelta(days=days))
            )
    lead = await principal(db, "thu.le")
    async with db.read() as session:
        pairs = [(d.id, role) for d, role in await incoming.my_tasks(session, principal=lead, limit=100)]
    assert [ids[i] for i, _ in pairs if i in ids] == sorted(dues), "overdue first, then by due date"
    assert {role for i, role in pairs if i in ids} == {"lead"}

    api = await client_for(db)
    token = await _bearer(db, "thu.le")
    order, cursor = [], None
    while True:
        answer = await api.get(
            "/api/v1/incoming/queues/in-progress", headers=token, params={"limit": 3, **({"cursor": cursor} if cursor else {})}
        )
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert body["total"] >= len(dues) - 1  # one is completed on the way
        order += [item["id"] for item in body["items"] if item["id"] in ids]
        if len(order) == 3:  # a document is completed between pages
            async with db.session() as session:
                await incoming.complete(session, principal=lead, document_id=order[0], result="Đã xong.")
        cursor = body["next_cursor"]
        if cursor is None:
            break
    assert [ids[i] for i in order] == sorted(dues) and len(set(order)) == len(dues)
