"""Searching Vietnamese text ignores case and diacritics on both backends, like people type it."""

from __future__ import annotations

import asyncio

import pytest
from alembic import command
from sqlalchemy import select

from services import textsearch
from services.incoming import service as incoming
from services.incoming.models import IncomingDocument
from services.migrate import alembic_config
from services.outgoing import service as outgoing
from services.outgoing.models import OutgoingDocument
from services.textsearch import Query, contains, fold, index_text, rank_of, words
from tests.incoming.conftest import principal, register
from tests.outgoing.flow import actor_of, draft


def test_fold_drops_case_and_every_vietnamese_mark() -> None:
    assert fold("Kế hoạch ĐẠI HỘI Phụ nữ Ưu tiên") == "ke hoach dai hoi phu nu uu tien"
    assert fold("Kế hoạch") == fold("KE\u0302\u0301 HOA\u0323CH")  # decomposed input folds the same


async def test_incoming_and_outgoing_search_ignore_case_and_accents(demo_db, settings) -> None:
    db = demo_db
    await register(
        db, settings, notation="312/SYT-NVY", issuer_name="Sở Y tế tỉnh Bến Tre", subject="Kế hoạch truyền thông sức khỏe sinh sản"
    )
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


def test_words_fold_and_split_like_people_type() -> None:
    assert words("15/QĐ-HLHPN: Kế hoạch CHUYỂN ĐỔI SỐ") == ["15", "qd", "hlhpn", "ke", "hoach", "chuyen", "doi", "so"]
    assert index_text("15/QĐ-HLHPN", "Kế hoạch", None, "") == "15 qd hlhpn | ke hoach"
    assert Query.parse(" ,; ") is None
    assert Query.parse("Kế hoạch số").tsquery() == "ke & hoach & so"  # type: ignore[union-attr]
    assert Query.parse("Kế hoạch số").fts5() == '"ke" "hoach" "so"'  # type: ignore[union-attr]


async def _search(db, who: str, text: str, **page: int) -> list[str]:  # type: ignore[no-untyped-def]
    who_ = await principal(db, who)
    async with db.session() as session:
        found = await incoming.search(session, principal=who_, filters=incoming.SearchFilters(text=text), **page)
        return [d.subject for d in found]


@pytest.mark.parametrize("walk", [4000, 1])
async def test_search_matches_every_word_in_any_order_ranked_phrase_first(demo_db, settings, walk, monkeypatch) -> None:
    # walk=1 (PostgreSQL): the newest documents walked hold only part of the answer, the indexes give the rest.
    monkeypatch.setattr(textsearch, "WALK", walk)
    monkeypatch.setattr(textsearch, "WALK_BUDGET", walk)
    db = demo_db
    a = await register(
        db,
        settings,
        notation="21/KH-STTTT",
        issuer_name="Sở Thông tin và Truyền thông",
        subject="Kế hoạch triển khai chuyển đổi số năm 2026",
    )
    b = await register(
        db, settings, notation="35/KH-HLHPN", issuer_name="Hội LHPN tỉnh", subject="Kế hoạch chuyển đổi số của Hội LHPN tỉnh"
    )
    c = await register(
        db, settings, notation="40/CV-TU", issuer_name="Tỉnh ủy Bến Tre", subject="Chuyển đổi số trong công tác Hội: kế hoạch năm 2026"
    )
    await register(db, settings, notation="41/KH-HLHPN", issuer_name="Hội LHPN tỉnh", subject="Kế hoạch tổ chức Đại hội")
    typed = "kế hoạch chuyển đổi số"
    # The words as typed first (b), then every word in any order, newest first (c, then a).
    expected = [b.subject, c.subject, a.subject]
    assert await _search(db, "mai.tran", typed) == expected
    assert await _search(db, "mai.tran", "KE HOACH CHUYEN DOI SO") == expected
    assert await _search(db, "mai.tran", "số chuyển đổi kế hoạch") == [c.subject, b.subject, a.subject]
    assert await _search(db, "mai.tran", "ĐẠI HỘI") == await _search(db, "mai.tran", "dai hoi") == ["Kế hoạch tổ chức Đại hội"]
    # Number/notation and issuer are searched too; words are whole words.
    assert await _search(db, "mai.tran", "21/KH-STTTT") == [a.subject]
    assert await _search(db, "mai.tran", "thong tin truyen thong") == [a.subject]
    assert await _search(db, "mai.tran", "thong tin truyen th") == []
    assert await _search(db, "mai.tran", "tinh uy chuyen doi") == [c.subject]
    assert await _search(db, "mai.tran", "ke hoach chuyen doi so 2027") == []

    # Pages of one: the cursor carries the rank, so nothing is skipped or repeated across ranks.
    seen: list[str] = []
    query = Query.parse(typed)
    cursor: dict[str, int] = {}
    clerk = await principal(db, "mai.tran")
    async with db.session() as session:
        while page := await incoming.search(session, principal=clerk, filters=incoming.SearchFilters(text=typed), limit=1, **cursor):
            seen.append(page[0].subject)
            cursor = {"before_id": page[0].id, "before_rank": rank_of(page[0], query)}  # type: ignore[arg-type]
    assert seen == expected


@pytest.mark.parametrize("walk", [2, 4000])
async def test_ranked_pages_are_the_full_sort_wherever_the_walk_hands_over(demo_db, settings, walk, monkeypatch) -> None:
    """Page after page through the cursor, the results are exactly all matches sorted by (rank,
    newest first): wherever the newest-first walk stops and an index takes over (walk=2: after a
    few documents, PostgreSQL), nothing is skipped, repeated or out of order; an older document
    with the words as typed comes before every newer one with them in another order."""
    monkeypatch.setattr(textsearch, "WALK", walk)
    monkeypatch.setattr(textsearch, "WALK_BUDGET", walk * 3)
    subjects = [
        "Kế hoạch chuyển đổi số năm {i}",  # rank 0
        "Chuyển đổi số: kế hoạch của Hội {i}",  # rank 1
        "Kế hoạch tổ chức Đại hội {i}",  # no match
        "Báo cáo kế hoạch chuyển giao, đổi mới, số hóa {i}",  # rank 1 (the words apart)
    ]
    for i in range(24):
        # Phrases are rare in the newest documents and common in the oldest: the walk meets few.
        kind = 0 if i < 6 else (1 + i % 3)
        await register(demo_db, settings, notation=f"{i + 1}/KH-HLHPN", subject=subjects[kind].format(i=i))
    clerk = await principal(demo_db, "mai.tran")
    for typed in ("kế hoạch chuyển đổi số", "ke hoach"):
        query = Query.parse(typed)
        assert query is not None
        async with demo_db.read() as session:
            docs = (await session.scalars(select(IncomingDocument))).all()
            expected = sorted((rank_of(d, query), -d.id, d.subject) for d in docs if set(query.words) <= set(d.search_text.split()))
        seen: list[str] = []
        cursor: dict[str, int] = {}
        async with demo_db.read() as session:
            while page := await incoming.search(session, principal=clerk, filters=incoming.SearchFilters(text=typed), limit=5, **cursor):
                seen += [d.subject for d in page]
                cursor = {"before_id": page[-1].id, "before_rank": rank_of(page[-1], query)}
        assert seen == [subject for _, _, subject in expected] and len(seen) >= 18, typed


async def test_a_changed_subject_is_found_by_its_new_words(demo_db, settings) -> None:
    db = demo_db
    doc = await register(db, settings, subject="Báo cáo sơ kết 6 tháng")
    async with db.session() as session:
        row = await session.get(IncomingDocument, doc.id)
        row.subject = "Báo cáo tổng kết công tác năm"  # type: ignore[union-attr]
    assert await _search(db, "mai.tran", "tong ket") == ["Báo cáo tổng kết công tác năm"]
    assert await _search(db, "mai.tran", "so ket") == []


async def test_outgoing_search_covers_recipients_and_follows_their_changes(demo_db, settings) -> None:
    db = demo_db
    doc_id = await draft(
        db,
        settings,
        doc_type="CV",
        subject="Về việc tổ chức Hội thi nấu ăn ngon",
        recipients=("hlhpn-chauthanh",),
        external=("Tỉnh đoàn Bến Tre",),
    )
    officer = await principal(db, "thu.le")

    async def found(q: str) -> list[int]:
        async with db.session() as session:
            return [d.id for d in await outgoing.queue(session, principal=officer, name="drafts", q=q)]

    assert await found("tinh doan nau an") == [doc_id]
    assert await found("châu thành hội thi") == [doc_id]
    async with db.session() as session:  # the draft's recipients change: the index follows
        doc = await session.get(OutgoingDocument, doc_id)
        fields = outgoing.DraftFields(
            doc_type="CV",
            subject=doc.subject,
            body="",
            signer_id=doc.signer_id,  # type: ignore[union-attr]
            recipient_org_ids=[],
            external_recipients=["Sở Giáo dục và Đào tạo"],
        )
        await outgoing.update_draft(session, settings=settings, actor=actor_of(officer.user), doc=doc, fields=fields)  # type: ignore[arg-type]
    assert await found("tinh doan") == []
    assert await found("so giao duc dao tao") == [doc_id]


async def test_the_migration_indexes_documents_that_already_exist(demo_db, settings) -> None:
    db = demo_db
    doc = await register(db, settings, notation="07/TB-HLHPN", subject="Thông báo kết luận của Đảng đoàn")
    await db.dispose()
    url = settings.database_url
    await asyncio.to_thread(command.downgrade, alembic_config(url), "0019")
    await asyncio.to_thread(command.upgrade, alembic_config(url), "heads")
    assert await _search(db, "mai.tran", "dang doan ket luan") == [doc.subject]
