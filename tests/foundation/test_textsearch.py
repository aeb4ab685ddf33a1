"""Searching Vietnamese text ignores case and diacritics on both backends, like people type it."""

from __future__ import annotations

from sqlalchemy import select

from services.incoming import service as incoming
from services.incoming.models import IncomingDocument
from services.outgoing import service as outgoing
from services.textsearch import contains, fold
from tests.incoming.conftest import principal, register
from tests.outgoing.flow import draft


def test_fold_drops_case_and_every_vietnamese_mark() -> None:
    assert fold("Kế hoạch ĐẠI HỘI Phụ nữ Ưu tiên") == "ke hoach dai hoi phu nu uu tien"
    assert fold("Kế hoạch") == fold("KE\u0302\u0301 HOA\u0323CH")  # decomposed input folds the same


async def test_incoming_and_outgoing_search_ignore_case_and_accents(demo_db, settings) -> None:
    db = demo_db
    await register(db, settings, notation="312/SYT-NVY", issuer_name="Sở Y tế tỉnh Bến Tre",
                   subject="Kế hoạch truyền thông sức khỏe sinh sản")
    await register(db, settings, notation="15/KH-UBND", subject="Thông báo lịch tiếp công dân 50% thời gian")
    clerk = await principal(db, "mai.tran")
    async with db.session() as session:
        async def subjects(**filters: str) -> list[str]:
            found = await incoming.search(session, principal=clerk, filters=incoming.SearchFilters(**filters))
            return [d.subject for d in found]

        assert await subjects(text="ke hoach truyen thong") == ["Kế hoạch truyền thông sức khỏe sinh sản"]
        assert await subjects(text="KẾ HOẠCH") == ["Kế hoạch truyền thông sức khỏe sinh sản"]
        assert await subjects(issuer="so y te") == ["Kế hoạch truyền thông sức khỏe sinh sản"]
        assert await subjects(text="syt-nvy") == ["Kế hoạch truyền thông sức khỏe sinh sản"]
        assert await subjects(text="50%") == ["Thông báo lịch tiếp công dân 50% thời gian"]  # % is not a wildcard
        assert await subjects(text="5%0") == []
        rows = await session.scalars(select(IncomingDocument.id).where(contains(IncomingDocument.subject, "TIẾP CONG DAN")))
        assert len(rows.all()) == 1
    await draft(db, settings, doc_type="CV", subject="Về việc tổ chức Hội thi nấu ăn ngon", recipients=())
    officer = await principal(db, "thu.le")
    async with db.session() as session:
        found = await outgoing.queue(session, principal=officer, name="drafts", q="hoi thi nau an")
        assert [d.subject for d in found] == ["Về việc tổ chức Hội thi nấu ăn ngon"]
