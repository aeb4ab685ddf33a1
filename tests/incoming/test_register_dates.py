"""Arrival numbers and dates agree: the register is the year of registration in Vietnam time,
an arrival date may not be in the future, and one earlier than the register's last entry needs
a reason that the trail keeps (on the service and on the registration page)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from services.audit.models import AuditEntry
from services.calendar import vn_today
from services.errors import InvalidInput
from services.incoming.models import IncomingDocument, IncomingNote
from tests.helpers import csrf_of, sign_in
from tests.incoming.conftest import org_id, register
from tests.signing.conftest import make_tiny_pdf


async def test_a_future_arrival_date_is_refused_and_takes_no_number(demo_db_sqlite, settings) -> None:
    tomorrow = vn_today() + timedelta(days=1)
    with pytest.raises(InvalidInput) as refused:
        await register(demo_db_sqlite, settings, arrival_date=tomorrow)
    assert "trong tương lai" in refused.value.text("vi")
    async with demo_db_sqlite.session() as session:
        assert await session.scalar(select(func.count()).select_from(IncomingDocument)) == 0


async def test_an_earlier_date_than_the_last_entry_needs_a_reason_the_trail_keeps(demo_db, settings) -> None:
    today = vn_today()
    first = await register(demo_db, settings, "01/CV-A", arrival_date=today)
    earlier = max(today - timedelta(days=3), date(today.year, 1, 1))
    if earlier == today:
        pytest.skip("1 January: no earlier date in this year's register")
    document_date = earlier - timedelta(days=1)
    with pytest.raises(InvalidInput) as refused:
        await register(demo_db, settings, "02/CV-B", arrival_date=earlier, document_date=document_date)
    assert refused.value.details.get("backdate") is True
    assert f"{today:%d/%m/%Y}" in refused.value.text("vi")
    reason = "Văn bản nhận qua bưu điện ngày thứ Bảy, vào sổ bổ sung"
    second = await register(demo_db, settings, "02/CV-B", arrival_date=earlier, document_date=document_date, backdate_reason=reason)
    assert (first.arrival_number, second.arrival_number) == (1, 2)  # nothing skipped by the refusal
    async with demo_db.session() as session:
        note = await session.scalar(select(IncomingNote).where(IncomingNote.document_id == second.id, IncomingNote.kind == "backdate"))
        assert note is not None and note.body == reason
        entry = await session.scalar(
            select(AuditEntry).where(AuditEntry.action == "incoming.register", AuditEntry.object_id == str(second.id))
        )
        assert entry is not None and reason in entry.details


async def test_the_register_year_is_the_year_of_registration_not_the_typed_date(demo_db_sqlite, settings) -> None:
    """A document that arrived last year but is registered now goes to this year's register
    (last year's is closed), with a reason for its date."""
    today = vn_today()
    last_year = date(today.year - 1, 12, 30)
    doc = await register(
        demo_db_sqlite,
        settings,
        arrival_date=last_year,
        document_date=last_year - timedelta(days=2),
        backdate_reason="Nhận cuối năm, vào sổ đầu năm",
    )
    assert (doc.arrival_year, doc.arrival_number, doc.arrival_date) == (today.year, 1, last_year)


async def test_the_registration_page_asks_for_the_reason_and_keeps_nothing_meanwhile(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    today = vn_today()
    earlier = max(today - timedelta(days=2), date(today.year, 1, 1))
    if earlier == today:
        pytest.skip("1 January: no earlier date in this year's register")
    await register(db, settings, "01/CV-A", arrival_date=today)
    client = await client_for(db)
    await sign_in(client, "mai.tran")
    token = await csrf_of(client, "/incoming/new")
    form = {
        "csrf_token": token,
        "organization_id": str(await org_id(db, "hlhpn-bentre")),
        "issuer_name": "Sở Nội vụ",
        "number_notation": "88/SNV-TCBC",
        "document_date": (earlier - timedelta(days=1)).isoformat(),
        "doc_type": "CV",
        "subject": "Về việc rà soát biên chế",
        "urgency": "normal",
        "secrecy": "normal",
        "arrival_date": earlier.isoformat(),
    }
    files = [("files", ("cv.pdf", make_tiny_pdf("88"), "application/pdf"))]
    refused = await client.post("/incoming", data=form, files=files)
    assert refused.status_code == 422
    assert "sớm hơn ngày đến của văn bản vào sổ gần nhất" in refused.text
    assert 'name="backdate_reason"' in refused.text  # the field appears with the message
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(IncomingDocument)) == 1
    fresh = await client.get("/incoming/new")
    assert 'name="backdate_reason"' not in fresh.text  # not shown until it is needed
    done = await client.post("/incoming", data={**form, "backdate_reason": "Nhận bản giấy ngày nghỉ"}, files=files)
    assert done.status_code == 303, done.text[:500]
    page = await client.get(done.headers["location"])
    assert "Vào sổ với ngày đến sớm hơn" in page.text and "Nhận bản giấy ngày nghỉ" in page.text


async def test_a_returned_document_keeps_its_number_and_date_without_a_reason(demo_db_sqlite, settings) -> None:
    """Sent back to the clerk after later entries were made: re-registering keeps its number, so
    its earlier date still agrees with the register and needs no reason."""
    from services.blobs import BlobStore
    from services.incoming import service as incoming
    from tests.incoming.conftest import meta, principal

    today = vn_today()
    earlier = max(today - timedelta(days=2), date(today.year, 1, 1))
    if earlier == today:
        pytest.skip("1 January: no earlier date in this year's register")
    first = await register(demo_db_sqlite, settings, "01/CV-A", arrival_date=earlier, document_date=earlier)
    await register(demo_db_sqlite, settings, "02/CV-B", arrival_date=today)
    leader, clerk = await principal(demo_db_sqlite, "lan.nguyen"), await principal(demo_db_sqlite, "mai.tran")
    async with demo_db_sqlite.session() as session:
        await incoming.return_to_clerk(session, principal=leader, document_id=first.id, reason="Thiếu phụ lục.")
    async with demo_db_sqlite.session() as session:
        again = await incoming.register(
            session,
            principal=clerk,
            organization_id=first.organization_id,
            meta=meta("01/CV-A", arrival_date=earlier, document_date=earlier),
            blobs=BlobStore.for_data_dir(settings.data_dir),
            document_id=first.id,
        )
        assert (again.arrival_number, again.arrival_date) == (1, earlier)
