"""Printing a register book in the background (issue 16): the clerk's POST starts the print and
returns at once; the worker prints the book a part at a time through LibreOffice, telling the
page after each part on the print's live channel; the book is kept in the blob store as one PDF
numbered on from part to part, downloadable by whoever may print that register; a failed print
says why and is tried again from the page."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import json
import re
import subprocess
import tempfile
from pathlib import Path
from types import SimpleNamespace

from sqlalchemy import select, update

import signing.convert
from services.audit.models import AuditEntry
from services.blobs import BlobStore
from services.documents.register_prints import RegisterPrint, RegisterPrintPart
from services.events.models import Event
from signing.convert import ConversionFailed
from tests.helpers import app_client, csrf_of, end_earlier_workflows, sign_in, wait_for, worker_with_relay
from tests.incoming.conftest import org_id, register
from tests.outgoing.flow import pdftotext

THIS_YEAR = dt.datetime.now(dt.timezone(dt.timedelta(hours=7))).year


async def _fresh_client(temporal_env):  # type: ignore[no-untyped-def]
    """The app's client; prints of earlier tests (same IDs, other databases) still running are ended."""
    client = app_client(temporal_env.client)
    await end_earlier_workflows(client, "register-print-")
    return client


async def _until(db, condition, timeout: float = 180.0):  # type: ignore[no-untyped-def]
    """Until `condition(session)`, read afresh each time, holds; its value."""

    async def holds():  # type: ignore[no-untyped-def]
        async with db.read() as session:
            return await condition(session)

    return await wait_for(holds, timeout=timeout, every=0.1)


async def _ended(db, print_id: int) -> SimpleNamespace:  # type: ignore[no-untyped-def]
    """The print once it has ended (its columns, read in the snapshot that saw it end)."""

    async def ended(session):  # type: ignore[no-untyped-def]
        job = await session.get(RegisterPrint, print_id)
        if job is None or job.status not in ("done", "failed"):
            return None
        return SimpleNamespace(**{c.key: getattr(job, c.key) for c in RegisterPrint.__table__.columns})

    return await _until(db, ended)


def _print_id(html: str) -> int:
    found = re.search(r'data-print-id="(\d+)"', html)
    assert found, "the page shows no print"
    return int(found.group(1))


async def _start_incoming_print(clerk, province: int) -> tuple[int, str]:  # type: ignore[no-untyped-def]
    token = await csrf_of(clerk, f"/incoming/book?org={province}")
    started = await clerk.post(
        "/incoming/book/print", data={"csrf_token": token, "org": str(province), "year": str(THIS_YEAR), "series": "chung"}
    )
    assert started.status_code == 303 and started.headers["location"].endswith("#register-print")
    page = await clerk.get(started.headers["location"].split("#")[0])
    return _print_id(page.text), page.text


def _pdf_pages(pdf: bytes) -> int:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "book.pdf"
        path.write_bytes(pdf)
        subprocess.run(["qpdf", "--check", str(path)], check=True, capture_output=True)
        info = subprocess.run(["pdfinfo", str(path)], check=True, capture_output=True, text=True).stdout
    return int(re.search(r"Pages:\s+(\d+)", info).group(1))  # type: ignore[union-attr]


async def _book_of_230(db, settings) -> int:  # type: ignore[no-untyped-def]
    """The province's register with 230 documents, printed in parts of 100 (three parts, as a
    year's 19,000 would be 38); returns the province."""
    settings.register_print_part_rows = 100
    for i in range(230):
        await register(db, settings, notation=f"{i + 1}/CV-UBND")
    return await org_id(db, "hlhpn-bentre")


async def test_a_long_register_is_printed_part_by_part_into_one_pdf_the_page_follows(
    demo_db_sqlite, settings, temporal_env, client_for
) -> None:
    db = demo_db_sqlite
    province = await _book_of_230(db, settings)
    client = await _fresh_client(temporal_env)
    async with worker_with_relay(client, settings, db, "print"):
        clerk = await client_for(db)
        await sign_in(clerk, "mai.tran")
        print_id, page = await _start_incoming_print(clerk, province)
        job = await _ended(db, print_id)
        assert job.status == "done", job.error
        assert (job.rows, job.parts, job.parts_done) == (230, 3, 3)

        # The page was told every step on the print's live channel, each part as it was converted.
        async with db.read() as session:
            events = (await session.scalars(select(Event).where(Event.channel == f"print-{print_id}").order_by(Event.seq))).all()
            steps = [(e.kind, json.loads(e.payload)["parts_done"], json.loads(e.payload)["rows_done"]) for e in events]
        assert steps == [
            ("started", 0, 0),
            ("sized", 0, 0),
            ("progress", 1, 100),
            ("progress", 2, 200),
            ("progress", 3, 230),
            ("done", 3, 230),
        ]

        card = await clerk.get(f"/registers/prints/{print_id}")
        assert card.status_code == 200 and "Sổ đã in xong lúc" in card.text and "230 văn bản" in card.text
        assert f'href="/registers/prints/{print_id}/book.pdf"' in card.text and "Tải sổ (PDF)" in card.text
        page = await clerk.get(f"/incoming/book?org={province}")
        assert "Tải sổ (PDF)" in page.text and "In lại" in page.text

        book = await clerk.get(f"/registers/prints/{print_id}/book.pdf")
        assert book.status_code == 200 and book.headers["content-type"] == "application/pdf"
        assert "so-van-ban-den-" in book.headers["content-disposition"]
        pages = _pdf_pages(book.content)  # qpdf finds the joined file sound
        text = pdftotext(book.content)
        assert text.count("SỔ ĐĂNG KÝ VĂN BẢN ĐẾN") == 1  # the title once, on the first part
        assert "1/CV-UBND" in text and "100/CV-UBND" in text and "101/CV-UBND" in text and "230/CV-UBND" in text
        # One book: its pages numbered on across the parts, 1 … N.
        assert [int(n) for n in re.findall(r"Trang (\d+)", text)] == list(range(1, pages + 1))

        # Whoever may print the register may download the print; others do not see it.
        leader = await client_for(db)
        await sign_in(leader, "lan.nguyen")
        assert (await leader.get(f"/registers/prints/{print_id}/book.pdf")).content == book.content
        officer = await client_for(db)
        await sign_in(officer, "thu.le")
        assert (await officer.get(f"/registers/prints/{print_id}/book.pdf")).status_code == 403
        stranger = await client_for(db)
        await sign_in(stranger, "mocaynam.vanthu")
        assert (await stranger.get(f"/registers/prints/{print_id}/book.pdf")).status_code == 404
        assert (await stranger.get(f"/registers/prints/{print_id}")).status_code == 404

    async with db.read() as session:
        printed = (await session.scalars(select(AuditEntry).where(AuditEntry.action == "incoming.register_print"))).all()
        entries = [(e.object_type, e.object_id, e.organization_id) for e in printed]
    assert entries == [("register", f"incoming-{province}-{THIS_YEAR}", province)]


class HeldConverter:
    """The real converter, held at the start of each conversion until the test lets it go."""

    def __init__(self, order: list[str]) -> None:
        self.real = signing.convert.get_converter()
        self.order = order
        self.entered, self.go = asyncio.Event(), asyncio.Event()

    async def to_pdf(self, docx: bytes, *, extra_seconds: float = 0.0) -> bytes:
        self.order.append("conversion started")
        self.entered.set()
        await self.go.wait()
        return await self.real.to_pdf(docx, extra_seconds=extra_seconds)


async def test_the_print_request_answers_before_the_book_is_converted(demo_db, settings, temporal_env, client_for, monkeypatch) -> None:
    db = demo_db
    for i in range(3):
        await register(db, settings, notation=f"{i + 1}/CV-UBND")
    province = await org_id(db, "hlhpn-bentre")
    order: list[str] = []
    held = HeldConverter(order)
    monkeypatch.setattr(signing.convert, "get_converter", lambda: held)
    client = await _fresh_client(temporal_env)
    async with worker_with_relay(client, settings, db, "print"):
        clerk = await client_for(db)
        await sign_in(clerk, "mai.tran")
        # The conversion cannot begin before the test lets it go, which it does only once the POST
        # has answered: a POST that waited for the print would never answer (and time out here).
        async with asyncio.timeout(60):
            print_id, page = await _start_incoming_print(clerk, province)
        order.append("request answered")
        assert re.search(r'data-print-status="(queued|running)"', page) and "Đang in sổ" in page
        await asyncio.wait_for(held.entered.wait(), timeout=120)
        # While LibreOffice has the book, the page (and its live panel) answers, the print under way.
        card = await clerk.get(f"/registers/prints/{print_id}")
        assert 'data-print-status="running"' in card.text and "Đang in sổ… 0/1 phần" in card.text and "<progress" in card.text
        # A second click while it runs joins the running print instead of starting another.
        again, _ = await _start_incoming_print(clerk, province)
        assert again == print_id
        order.append("conversion let go")
        held.go.set()
        job = await _ended(db, print_id)
        order.append("print done")
    assert job.status == "done" and job.rows == 3
    assert order == ["request answered", "conversion started", "conversion let go", "print done"]


async def test_two_clerks_starting_the_same_print_at_once_get_one_run(demo_db, monkeypatch) -> None:
    """Both requests read "nothing running" before either inserts (forced here): the unique index
    on open runs turns the second insert into the first run, never a second print."""
    from services.documents import register_prints
    from tests.reports.factory import principal

    clerk = await principal(demo_db, "mai.tran")
    province = await org_id(demo_db, "hlhpn-bentre")
    args = {"kind": "incoming", "series": "chung", "organization_id": province, "year": THIS_YEAR}
    async with demo_db.session() as session:
        first = (await register_prints.start(session, principal=clerk, **args)).id
    real_latest, raced = register_prints.latest, []

    async def latest_read_before_the_other_insert(session, **kw):  # type: ignore[no-untyped-def]
        if not raced:
            raced.append(True)
            return None
        return await real_latest(session, **kw)

    monkeypatch.setattr(register_prints, "latest", latest_read_before_the_other_insert)
    async with demo_db.session() as session:
        second = (await register_prints.start(session, principal=clerk, **args)).id
    assert raced and second == first
    async with demo_db.read() as session:
        runs = (await session.scalars(select(RegisterPrint.id).where(RegisterPrint.organization_id == province))).all()
        started = (await session.scalars(select(AuditEntry.seq).where(AuditEntry.action == "incoming.register_print"))).all()
    assert runs == [first] and len(started) == 1


class BrokenConverter:
    async def to_pdf(self, docx: bytes, *, extra_seconds: float = 0.0) -> bytes:
        raise ConversionFailed("office refused the register")


async def test_a_failed_print_says_why_in_the_readers_language_and_is_tried_again(
    demo_db_sqlite, settings, temporal_env, client_for, monkeypatch
) -> None:
    db = demo_db_sqlite
    await register(db, settings, notation="1/CV-UBND")
    province = await org_id(db, "hlhpn-bentre")
    monkeypatch.setattr(signing.convert, "get_converter", lambda: BrokenConverter())
    client = await _fresh_client(temporal_env)
    async with worker_with_relay(client, settings, db, "print"):
        clerk = await client_for(db)
        await sign_in(clerk, "mai.tran")
        first, _ = await _start_incoming_print(clerk, province)
        assert (await _ended(db, first)).status == "failed"
        card = await clerk.get(f"/registers/prints/{first}")
        assert "Không in được sổ. Hãy thử lại" in card.text and 'role="alert"' in card.text and "Thử lại" in card.text
        assert (await clerk.get(f"/registers/prints/{first}/book.pdf")).status_code == 409
        await clerk.get("/lang/en")
        assert "The register could not be printed. Try again" in (await clerk.get(f"/registers/prints/{first}")).text
        await clerk.get("/lang/vi")

        monkeypatch.undo()  # the office works again: "Thử lại" prints it
        second, _ = await _start_incoming_print(clerk, province)
        assert second != first and (await _ended(db, second)).status == "done"
        assert (await clerk.get(f"/registers/prints/{second}/book.pdf")).content.startswith(b"%PDF")


async def test_a_print_whose_worker_was_lost_is_started_again_by_the_reconciliation(
    demo_db_sqlite, settings, temporal_env, client_for
) -> None:
    """A print left open with no workflow (its outbox command lost, Temporal's history gone) is
    found by the relay's reconciliation and printed."""
    from workflows.relay import OutboxRelay

    db = demo_db_sqlite
    await register(db, settings, notation="1/CV-UBND")
    province = await org_id(db, "hlhpn-bentre")
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    print_id, _ = await _start_incoming_print(clerk, province)  # no relay runs: the command waits
    from services.outbox.models import OutboxCommand

    async with db.session() as session:
        await session.execute(update(OutboxCommand).values(delivered_at=dt.datetime.now(dt.UTC)))
    client = await _fresh_client(temporal_env)
    async with worker_with_relay(client, settings, db, "print"):
        relay = OutboxRelay(client, db, settings, reconcile_every=None)
        assert await relay.reconcile() >= 1  # the print (and the registered document, also open)
        assert (await _ended(db, print_id)).status == "done"


class ConverterLostOnce:
    """The real converter, counting its conversions; the `lose_at`-th one dies as a lost worker's
    would (not a conversion error: the activity fails and Temporal tries it again)."""

    def __init__(self, lose_at: int) -> None:
        self.real = signing.convert.get_converter()
        self.lose_at, self.calls = lose_at, 0
        self.parts: list[str] = []  # digests of the parts converted

    async def to_pdf(self, docx: bytes, *, extra_seconds: float = 0.0) -> bytes:
        self.calls += 1
        if self.calls == self.lose_at:
            raise RuntimeError("the worker was lost mid-print")
        pdf = await self.real.to_pdf(docx, extra_seconds=extra_seconds)
        self.parts.append(hashlib.sha256(pdf).hexdigest())
        return pdf


async def test_a_print_tried_again_converts_only_the_parts_it_had_not_kept(
    demo_db_sqlite, settings, temporal_env, client_for, monkeypatch
) -> None:
    db = demo_db_sqlite
    province = await _book_of_230(db, settings)
    converter = ConverterLostOnce(lose_at=3)  # the first attempt converts two parts, then is lost
    monkeypatch.setattr(signing.convert, "get_converter", lambda: converter)
    client = await _fresh_client(temporal_env)
    async with worker_with_relay(client, settings, db, "print"):
        clerk = await client_for(db)
        await sign_in(clerk, "mai.tran")
        print_id, _ = await _start_incoming_print(clerk, province)
        job = await _ended(db, print_id)
    assert job.status == "done", job.error
    # Two parts, the lost third, then on the second attempt only the third: 4, not 2 + 1 + 3.
    assert converter.calls == 4 and len(converter.parts) == 3
    blobs = BlobStore.for_settings(settings)
    book = blobs.get(job.pdf_sha256)
    text = pdftotext(book)
    assert "1/CV-UBND" in text and "101/CV-UBND" in text and "230/CV-UBND" in text
    assert [int(n) for n in re.findall(r"Trang (\d+)", text)] == list(range(1, _pdf_pages(book) + 1))
    # Once the book is made its parts go, rows and files.
    async with db.read() as session:
        assert (await session.scalars(select(RegisterPrintPart))).all() == []
    assert not any(blobs.exists(part) for part in converter.parts)


async def test_a_new_print_replaces_the_registers_earlier_print_and_its_file(demo_db_sqlite, settings, temporal_env, client_for) -> None:
    db = demo_db_sqlite
    await register(db, settings, notation="1/CV-UBND")
    province = await org_id(db, "hlhpn-bentre")
    blobs = BlobStore.for_settings(settings)
    client = await _fresh_client(temporal_env)
    async with worker_with_relay(client, settings, db, "print"):
        clerk = await client_for(db)
        await sign_in(clerk, "mai.tran")
        first, _ = await _start_incoming_print(clerk, province)
        first_file = (await _ended(db, first)).pdf_sha256
        assert blobs.exists(first_file)
        await register(db, settings, notation="2/CV-UBND")
        second, _ = await _start_incoming_print(clerk, province)
        assert second != first and (await _ended(db, second)).status == "done"

    # The newest print is the register's; the earlier one keeps its row (the trail) but not its file.
    book = await clerk.get(f"/registers/prints/{second}/book.pdf")
    assert book.status_code == 200 and "2/CV-UBND" in pdftotext(book.content)
    assert not blobs.exists(first_file)
    gone = await clerk.get(f"/registers/prints/{first}/book.pdf")
    assert gone.status_code == 404 and "Bản in này đã được thay bằng bản in mới hơn của sổ" in gone.text
    card = await clerk.get(f"/registers/prints/{first}")
    assert "data-print-replaced" in card.text and "Tải sổ (PDF)" not in card.text
    async with db.read() as session:
        statuses = (await session.scalars(select(RegisterPrint.status).order_by(RegisterPrint.id))).all()
    assert statuses == ["done", "done"]
