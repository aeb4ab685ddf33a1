"""Printing the register holds no lock: while LibreOffice builds the PDF of a year's register,
other people's writes go through; the print is recorded in the trail once it is built."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

import signing.convert
from services.audit.models import AuditEntry
from services.audit.service import Actor, record
from tests.helpers import sign_in
from tests.outgoing import flow


class HeldConverter:
    """The real LibreOffice converter, held at the start of a conversion until the test says go."""

    def __init__(self) -> None:
        self.real = signing.convert.get_converter()
        self.entered, self.go = asyncio.Event(), asyncio.Event()

    async def to_pdf(self, docx: bytes, *, extra_seconds: float = 0.0) -> bytes:
        self.entered.set()
        await self.go.wait()
        return await self.real.to_pdf(docx, extra_seconds=extra_seconds)


async def test_others_write_while_the_register_pdf_is_being_built(demo_db_sqlite, og_settings, client_for, monkeypatch) -> None:
    db, settings = demo_db_sqlite, og_settings
    await flow.draft(db, settings)
    held = HeldConverter()
    monkeypatch.setattr(signing.convert, "get_converter", lambda: held)
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    year = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).year
    printing = asyncio.create_task(clerk.get(f"/outgoing/register/{year}?format=pdf"))
    await asyncio.wait_for(held.entered.wait(), timeout=60)
    # SQLite has one writer: were the print's transaction still open, this would wait for it.
    async with asyncio.timeout(10), db.session() as session:
        await record(session, actor=Actor.system("test"), action="test.write_during_print")
    held.go.set()
    response = await asyncio.wait_for(printing, timeout=120)
    assert response.status_code == 200 and response.content.startswith(b"%PDF")
    async with db.read() as session:
        printed = (await session.scalars(select(AuditEntry.action).where(AuditEntry.action == "outgoing.register_print"))).all()
    assert printed == ["outgoing.register_print"]
