"""A partner outside the system recalls a document it sent us by edXML (business type 1, with
its reason): the request shows on the document's page, the clerk agrees (15) or refuses (16,
with a reason), and the answer goes back to the partner as a status package. Its updates (2)
and replacements (3) are noted on our copy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from sqlalchemy import select

from services.errors import InvalidInput
from services.exchange import service as exchange
from services.exchange.models import ExchangeMessage
from services.incoming import service as incoming
from services.incoming.models import IncomingDocument, IncomingNote
from services.outgoing import edxml
from tests.helpers import csrf_of, sign_in
from workflows.relay import OutboxRelay

FIXTURES = Path(__file__).parent / "edxml_fixtures"
SDK = (FIXTURES / "sdk-cong-van.edxml").read_bytes()
REASON = "Văn bản ban hành chưa đúng thẩm quyền"
RECALL = SDK.replace(b"<edXML:BussinessDocType>0<", b"<edXML:BussinessDocType>1<").replace(
    b"<edXML:BussinessDocReason></edXML:BussinessDocReason>", f"<edXML:BussinessDocReason>{REASON}</edXML:BussinessDocReason>".encode()
)
SENDER = "000.00.00.H08"


async def test_the_clerk_answers_a_partners_recall_and_the_answer_goes_back(demo_db_sqlite, og_settings, client_for) -> None:
    db, settings = demo_db_sqlite, og_settings
    with pytest.raises(InvalidInput, match="never arrived"):  # a recall of nothing we hold
        await exchange.receive(db, settings, RECALL)
    assert await exchange.receive(db, settings, SDK) == "document"
    assert await exchange.receive(db, settings, RECALL) == "recall"
    async with db.read() as session:
        doc_id = await session.scalar(select(IncomingDocument.id).where(IncomingDocument.number_notation == "1234/UBND-VX"))
    page = f"/incoming/{doc_id}"

    leader = await client_for(db)
    await sign_in(leader, "lan.nguyen")
    seen = (await leader.get(page)).text
    assert "Cơ quan gửi đề nghị thu hồi văn bản này" in seen and REASON in seen and "Văn thư trả lời cơ quan gửi." in seen
    token = await csrf_of(leader, page)
    assert (await leader.post(page + "/recall-answer", data={"csrf_token": token, "decision": "accept"})).status_code == 403

    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    token = await csrf_of(clerk, page)
    assert 'value="refuse"' in (await clerk.get(page)).text
    refused = await clerk.post(page + "/recall-answer", data={"csrf_token": token, "decision": "refuse", "reason": " "})
    assert refused.status_code == 422 and "Nhập lý do từ chối thu hồi" in refused.text
    agreed = await clerk.post(page + "/recall-answer", data={"csrf_token": token, "decision": "accept"})
    assert agreed.status_code == 303
    after = (await clerk.get(page)).text
    assert "data-recall-request" not in after and "Đồng ý cho cơ quan ban hành thu hồi văn bản." in after
    again = await clerk.post(page + "/recall-answer", data={"csrf_token": token, "decision": "refuse", "reason": "Đổi ý"})
    assert again.status_code == 409

    # The answer reaches the partner's folder (none configured: the data dir's exchange outbox) as a
    # status package 15 for its DocumentId.
    relay = OutboxRelay(None, db, settings, reconcile_every=None)  # type: ignore[arg-type]
    while await relay.deliver_due():  # no Temporal here: its commands are put off, packages go out
        pass
    async with db.read() as session:
        codes = [(m.kind, m.code, m.delivered_at is not None) for m in (await session.scalars(select(ExchangeMessage))).all()]
    assert ("status", "15", True) in codes and not any(code == "16" for _, code, _ in codes)
    sent = [edxml.parse_status(p.read_bytes()) for p in (settings.data_dir / "exchange" / "outbox" / SENDER).glob("*.edxml")]
    (status,) = [s for s in sent if s.code == "15"]
    assert status.response_for == f"{SENDER},2026/11/28,1234/UBND-VX"


async def test_an_update_and_a_replacement_from_a_partner_are_noted_on_our_copy(demo_db_sqlite, og_settings) -> None:
    db, settings = demo_db_sqlite, og_settings
    update = SDK.replace(b"<edXML:BussinessDocType>0<", b"<edXML:BussinessDocType>2<").replace(
        b"<edXML:BussinessDocReason></edXML:BussinessDocReason>",
        "<edXML:BussinessDocReason>Bổ sung phụ lục</edXML:BussinessDocReason>".encode(),
    )
    original = edxml.parse(SDK)
    replacement = edxml.build(
        dataclasses.replace(
            original,
            code_number=1240,
            business_type=edxml.BUSINESS["replace"],
            business_reason="Sai ngày tổ chức",
            response_for=original.document_id,
            received_id="",
        )  # fmt: skip
    )
    with pytest.raises(InvalidInput, match="never arrived"):
        await exchange.receive(db, settings, update)
    assert await exchange.receive(db, settings, SDK) == "document"
    assert await exchange.receive(db, settings, update) == "update"
    assert await exchange.receive(db, settings, replacement) == "document"
    async with db.read() as session:
        docs = {d.number_notation: d for d in (await session.scalars(select(IncomingDocument))).all() if "UBND-VX" in d.number_notation}
        assert set(docs) == {"1234/UBND-VX", "1240/UBND-VX"}
        notes = (await session.scalars(select(IncomingNote).where(IncomingNote.document_id == docs["1234/UBND-VX"].id))).all()
        assert {n.kind: n.body for n in notes if n.kind in ("update", "replace")} == {
            "update": "Cơ quan ban hành đã cập nhật văn bản này. Lý do: Bổ sung phụ lục",
            "replace": "Cơ quan ban hành đã thay thế văn bản này. Lý do: Sai ngày tổ chức",
        }
        assert await incoming.recall_waiting(session, docs["1234/UBND-VX"]) is None  # nothing to answer


async def test_a_recall_asked_as_status_13_waits_for_the_clerks_answer_too(demo_db_sqlite, og_settings) -> None:
    db, settings = demo_db_sqlite, og_settings
    status = (
        (FIXTURES / "sdk-trang-thai-03.edxml")
        .read_text(encoding="utf-8")
        .replace("<OrganId>000.00.31.H08</OrganId>", f"<OrganId>{SENDER}</OrganId>")
        .replace("<Code>15/QĐ-HLHPN</Code>", "<Code>1234/UBND-VX</Code>")
        .replace("<PromulgationDate>2026/11/30</PromulgationDate>", "<PromulgationDate>2026/11/28</PromulgationDate>")
        .replace("000.00.31.H08,2026/11/30,15/QĐ-HLHPN", f"{SENDER},2026/11/28,1234/UBND-VX")
        .replace("<StatusCode>3</StatusCode>", "<StatusCode>13</StatusCode>")
        .replace("Đã tiếp nhận, vào sổ đến số 412", REASON)
        .encode()
    )
    with pytest.raises(InvalidInput, match="never arrived"):
        await exchange.receive(db, settings, status)
    assert await exchange.receive(db, settings, SDK) == "document"
    assert await exchange.receive(db, settings, status) == "recall"
    async with db.read() as session:
        doc = await session.scalar(select(IncomingDocument).where(IncomingDocument.number_notation == "1234/UBND-VX"))
        asked = await incoming.recall_waiting(session, doc)
        assert asked is not None and REASON in asked.body
