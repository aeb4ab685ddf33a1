"""Register numbers are taken only when a document is really issued: 100 concurrent issues
(with duplicates and failures mixed in) give contiguous numbers per series, on both backends."""

from __future__ import annotations

import asyncio
import datetime as dt

from sqlalchemy import select

from services.audit.service import Actor
from services.outgoing import service as outgoing
from services.outgoing.models import OutgoingDocument, Secrecy, Status
from tests.helpers import sqlite_write_lock_is_free
from tests.outgoing.flow import org, user

ISSUE_DAY = dt.date(2026, 3, 2)


async def _signed_documents(database, settings, n: int) -> list[int]:  # type: ignore[no-untyped-def]
    """`n` documents in the "signed" state (every fifth one secret), made without PDFs."""
    blob = outgoing.BlobStore.for_data_dir(settings.data_dir).put(b"%PDF-1.7 leader-signed placeholder")
    async with database.session() as session:
        province = await org(session, "hlhpn-bentre")
        drafter, leader = await user(session, "thu.le"), await user(session, "lan.nguyen")
        docs = [
            OutgoingDocument(
                organization_id=province.id,
                drafter_id=drafter.id,
                signer_id=leader.id,
                doc_type="CV" if i % 2 else "TB",
                subject=f"Văn bản thử số {i}",
                body="",
                external_recipients="",
                status=Status.signed,
                leader_pdf_sha=blob,
                secrecy=Secrecy.secret if i % 5 == 0 else Secrecy.normal,
            )
            for i in range(n)
        ]
        session.add_all(docs)
        await session.flush()
        return [d.id for d in docs]


async def test_concurrent_issues_get_contiguous_numbers_per_series(demo_db, og_settings) -> None:
    ids = await _signed_documents(demo_db, og_settings, 100)
    clerk = Actor(user_id=None, name="Trần Thị Mai")
    failing = set(ids[13::17])  # a wrong seal PIN, say: these attempts must not consume a number
    # As many at once as the connection pool serves (10 + 20 overflow): more would only wait for a
    # connection, and on a loaded machine past the pool's 30 s timeout.
    slots = asyncio.Semaphore(25)

    async def issue(doc_id: int, *, fail: bool = False) -> None:
        async def seal(stamp: outgoing.IssueStamp) -> outgoing.IssuedFiles:
            await asyncio.sleep(0.001 * (doc_id % 7))  # let the transactions interleave
            if fail:
                raise outgoing.InvalidInput("Sai mã PIN.", "Wrong PIN.")
            return outgoing.IssuedFiles(pdf=f"%PDF-1.7 issued {stamp.notation}".encode())

        async with slots, demo_db.session() as session:
            await outgoing.issue(
                session, settings=og_settings, principal=None, actor=clerk, document_id=doc_id, seal=seal, issue_date=ISSUE_DAY
            )

    attempts = [issue(i, fail=i in failing) for i in ids] + [issue(i) for i in ids[:10]]  # 10 double clicks
    results = await asyncio.gather(*attempts, return_exceptions=True)
    errors = [r for r in results if isinstance(r, Exception)]
    assert len(errors) == len(failing) and all(isinstance(e, outgoing.InvalidInput) for e in errors), errors[:3]
    # The failed ones are issued afterwards: they get the next numbers, still without gaps.
    await asyncio.gather(*(issue(i) for i in failing))

    async with demo_db.session() as session:
        docs = (await session.scalars(select(OutgoingDocument).where(OutgoingDocument.id.in_(ids)))).all()
    assert all(d.status == Status.issued and d.year == 2026 for d in docs)
    for series, expected in (("chung", 80), ("mat", 20)):
        numbers = sorted(d.number for d in docs if d.series == series)
        assert numbers == list(range(1, expected + 1)), f"{series}: {numbers}"
    for d in docs:
        expected_suffix = "/HLHPN-VP" if d.doc_type == "CV" else "/TB-HLHPN"
        assert d.notation == f"{d.number:02d}{expected_suffix}"


async def test_issuing_twice_keeps_the_first_number(demo_db_sqlite, og_settings) -> None:
    (doc_id,) = await _signed_documents(demo_db_sqlite, og_settings, 1)
    calls = []

    async def seal(stamp: outgoing.IssueStamp) -> outgoing.IssuedFiles:
        calls.append(stamp.notation)
        return outgoing.IssuedFiles(pdf=b"%PDF-1.7 issued")

    for _ in range(2):
        async with demo_db_sqlite.session() as session:
            doc = await outgoing.issue(
                session, settings=og_settings, principal=None, actor=Actor.system(), document_id=doc_id, seal=seal, issue_date=ISSUE_DAY
            )
    assert calls == ["01/TB-HLHPN"] and doc.notation == "01/TB-HLHPN"


async def test_sealing_runs_with_no_lock_held_and_a_failed_seal_keeps_the_number(demo_db_sqlite, og_settings) -> None:
    """The seal's network calls (OCSP, time stamp) happen outside any transaction: another writer
    gets SQLite's lock meanwhile. A seal that fails leaves the number with the document; the next
    attempt uses it, and another document takes the next one."""
    _secret, first, second = await _signed_documents(demo_db_sqlite, og_settings, 3)  # the last two share a series
    path = demo_db_sqlite.url.split(":///", 1)[1]
    locks_free: list[bool] = []

    async def issue(doc_id: int, *, fail: bool) -> OutgoingDocument:
        async def seal(stamp: outgoing.IssueStamp) -> outgoing.IssuedFiles:
            locks_free.append(await asyncio.to_thread(sqlite_write_lock_is_free, path, 0.2))
            if fail:
                raise outgoing.InvalidInput("Sai mã PIN.", "Wrong PIN.")
            return outgoing.IssuedFiles(pdf=f"%PDF-1.7 issued {stamp.notation}".encode())

        async with demo_db_sqlite.session() as session:
            return await outgoing.issue(
                session, settings=og_settings, principal=None, actor=Actor.system(), document_id=doc_id, seal=seal, issue_date=ISSUE_DAY
            )

    try:
        await issue(first, fail=True)
        raise AssertionError("the failing seal did not fail")
    except outgoing.InvalidInput:
        pass
    async with demo_db_sqlite.read() as session:
        held = await session.get(OutgoingDocument, first)
        assert held.status == Status.signed and held.number == 1  # kept, not issued
    assert (await issue(second, fail=False)).number == 2
    assert (await issue(first, fail=False)).number == 1
    assert locks_free == [True, True, True]
    async with demo_db_sqlite.session() as session:
        try:
            await outgoing.cancel(
                session, actor=Actor.system(), principal=None, doc=await session.get(OutgoingDocument, first), reason="thử"
            )
        except outgoing.Conflict:
            pass  # issued already: only recall is possible
