"""Printing the register holds no lock: while LibreOffice builds the PDF of a year's register (in
the worker, in the background), other people's writes go through; the print is recorded in the
trail once, when the clerk asks for it."""

from __future__ import annotations

import asyncio
import datetime as dt
import re

from sqlalchemy import select

import signing.convert
from services.audit.models import AuditEntry
from services.audit.service import Actor, record
from services.documents.register_prints import RegisterPrint
from tests.helpers import app_client, csrf_of, end_earlier_workflows, sign_in, wait_for, worker_with_relay
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


async def test_others_write_while_the_register_pdf_is_being_built(
    demo_db_sqlite, og_settings, client_for, temporal_env, monkeypatch
) -> None:
    db, settings = demo_db_sqlite, og_settings
    await flow.draft(db, settings)
    held = HeldConverter()
    monkeypatch.setattr(signing.convert, "get_converter", lambda: held)
    client = app_client(temporal_env.client)
    await end_earlier_workflows(client, "register-print-")
    async with worker_with_relay(client, settings, db, "register-print"):
        clerk = await client_for(db)
        await sign_in(clerk, "mai.tran")
        year = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).year
        token = await csrf_of(clerk, f"/outgoing/register/{year}")
        started = await clerk.post(f"/outgoing/register/{year}/print", data={"csrf_token": token})
        assert started.status_code == 303
        page = await clerk.get(started.headers["location"].split("#")[0])
        print_id = int(re.search(r'data-print-id="(\d+)"', page.text).group(1))  # type: ignore[union-attr]
        await asyncio.wait_for(held.entered.wait(), timeout=120)
        # SQLite has one writer: were the print's transaction still open, this would wait for it.
        async with asyncio.timeout(10), db.session() as session:
            await record(session, actor=Actor.system("test"), action="test.write_during_print")
        held.go.set()

        async def ended():  # type: ignore[no-untyped-def]
            async with db.read() as session:
                status = await session.scalar(select(RegisterPrint.status).where(RegisterPrint.id == print_id))
            return status if status in ("done", "failed") else None

        status = await wait_for(ended, timeout=120, every=0.1)
        assert status == "done"
        response = await clerk.get(f"/registers/prints/{print_id}/book.pdf")
        assert response.status_code == 200 and response.content.startswith(b"%PDF")
    async with db.read() as session:
        printed = (await session.scalars(select(AuditEntry.action).where(AuditEntry.action == "outgoing.register_print"))).all()
    assert printed == ["outgoing.register_print"]
