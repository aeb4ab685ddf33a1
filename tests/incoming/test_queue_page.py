"""A long queue shows its most pressing documents, a hundred, and says how many wait."""

from __future__ import annotations

import re

from tests.helpers import sign_in
from tests.incoming.conftest import register


async def test_a_leader_with_105_documents_to_direct_sees_the_first_100_and_the_count(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    for i in range(105):
        await register(db, settings, notation=f"{i + 1}/CV-SYT", urgency="urgent" if i == 104 else "normal")
    leader = await client_for(db)
    await sign_in(leader, "lan.nguyen")
    page = await leader.get("/incoming/to-direct")
    assert page.status_code == 200
    rows = re.findall(r'<td data-label="Số, ký hiệu"><a href="/incoming/\d+"><strong>([^<]+)</strong>', page.text)
    assert len(rows) == 100 and rows[0] == "105/CV-SYT", "the urgent one first, then the oldest"
    assert "(105)" in page.text and "Đang hiển thị 100 văn bản cần xử lý trước trong số 105" in page.text
