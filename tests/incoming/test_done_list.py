"""The done list: the latest completed documents each person may see (their organisation's when
they see it whole, else those they led, co-handled, or that went to a unit they head), newest
completion first — one index-backed query per way of seeing a document, merged."""

from __future__ import annotations

from services.incoming import service as incoming
from tests.incoming.conftest import direct_to, principal, register, unit_id, user_id


async def _complete(db, doc_id: int, lead: str) -> None:  # type: ignore[no-untyped-def]
    who = await principal(db, lead)
    async with db.session() as session:
        await incoming.complete(session, principal=who, document_id=doc_id, result="Đã triển khai.")


async def _done(db, username: str, limit: int = 100) -> list[int]:  # type: ignore[no-untyped-def]
    who = await principal(db, username)
    async with db.read() as session:
        return [d.id for d in await incoming.done_list(session, principal=who, limit=limit)]


async def test_each_person_sees_the_documents_done_that_they_may_see_newest_completion_first(demo_db_sqlite, settings) -> None:
    db = demo_db_sqlite
    led = await register(db, settings, notation="1/KH-UBND")
    await direct_to(db, led.id, lead="thu.le")
    co = await register(db, settings, notation="2/KH-UBND")
    await direct_to(db, co.id, lead="thu.le", co_user_ids=[await user_id(db, "ngoc.vo")])
    unit = await register(db, settings, notation="3/KH-UBND")
    await direct_to(db, unit.id, lead="ngoc.vo", co_unit_ids=[await unit_id(db, "hlhpn-bentre", "GDXH")])
    open_doc = await register(db, settings, notation="4/KH-UBND")
    await direct_to(db, open_doc.id, lead="thu.le")
    # Completed in this order: the co-handled one, the unit's, then the one led first (done last).
    await _complete(db, co.id, "thu.le")
    await _complete(db, unit.id, "ngoc.vo")
    await _complete(db, led.id, "thu.le")

    assert await _done(db, "mai.tran") == [led.id, unit.id, co.id]  # the clerk sees the organisation whole
    assert await _done(db, "thu.le") == [led.id, co.id]  # what she led
    assert await _done(db, "ngoc.vo") == [unit.id, co.id]  # led one, co-handled the other
    assert await _done(db, "hanh.pham") == [unit.id]  # heads the unit it went to
    assert await _done(db, "mai.tran", limit=2) == [led.id, unit.id]
    assert await _done(db, "chauthanh.chutich") == []  # another organisation
