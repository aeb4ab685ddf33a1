"""Linking the outgoing document that answers an incoming one: drafted from the incoming page
(linked on save), linked later or removed by the lead handler, refused for others, for another
organisation's document and for a cancelled one; recorded in the trail and shown on both pages."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from services.audit.models import AuditEntry
from services.errors import Forbidden, InvalidInput, NotFound
from services.incoming import service as incoming
from services.incoming.models import IncomingDocument
from services.outgoing import service as outgoing
from services.outgoing.models import OutgoingDocument
from tests.helpers import csrf_of, sign_in
from tests.incoming.conftest import direct_to, principal, register
from tests.outgoing.flow import actor_of, draft, user


async def _reply_id(database, doc_id: int) -> int | None:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        return (await session.get(IncomingDocument, doc_id)).reply_outgoing_id


async def _actions(database, doc_id: int) -> list[str]:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        return list(
            (
                await session.scalars(
                    select(AuditEntry.action)
                    .where(
                        AuditEntry.object_type == "incoming", AuditEntry.object_id == str(doc_id), AuditEntry.action.like("incoming.reply%")
                    )
                    .order_by(AuditEntry.seq)
                )
            ).all()
        )


async def test_lead_links_and_unlinks_a_reply_and_others_cannot(demo_db, settings) -> None:
    db = demo_db
    doc = await register(db, settings, issuer_name="Sở Y tế tỉnh Bến Tre", notation="312/SYT-NVY")
    reply = await draft(db, settings, doc_type="CV", subject="Về việc phối hợp truyền thông", recipients=())
    lead = await principal(db, "thu.le")
    async with db.session() as session:
        with pytest.raises(NotFound):  # not yet directed: the officer has nothing to do with it
            await incoming.link_reply(session, principal=lead, document_id=doc.id, outgoing_id=reply)
    await direct_to(db, doc.id, lead="thu.le", co_user_ids=[(await principal(db, "hanh.pham")).user.id])

    co = await principal(db, "hanh.pham")
    async with db.session() as session:
        with pytest.raises(Forbidden):
            await incoming.link_reply(session, principal=co, document_id=doc.id, outgoing_id=reply)
    other_org = await draft(
        db, settings, doc_type="CV", recipients=(), drafter="chauthanh.chuyenvien", org_code="hlhpn-chauthanh", signer="chauthanh.chutich"
    )
    async with db.session() as session:
        with pytest.raises(InvalidInput):
            await incoming.link_reply(session, principal=lead, document_id=doc.id, outgoing_id=other_org)
    assert await _reply_id(db, doc.id) is None

    async with db.session() as session:
        await incoming.link_reply(session, principal=lead, document_id=doc.id, outgoing_id=reply)
        await incoming.complete(session, principal=lead, document_id=doc.id, result="Đã trả lời Sở Y tế.")
    assert await _reply_id(db, doc.id) == reply
    async with db.session() as session:
        assert [d.id for d in await incoming.answered_by(session, outgoing_id=reply)] == [doc.id]
    # A cancelled draft cannot be the reply; the link stays as it was.
    dropped = await draft(db, settings, doc_type="CV", subject="Bản soạn bỏ", recipients=())
    async with db.session() as session:
        officer = await user(session, "thu.le")
        await outgoing.cancel(
            session, actor=actor_of(officer), principal=lead, doc=await session.get(OutgoingDocument, dropped), reason="Soạn lại."
        )
    async with db.session() as session:
        with pytest.raises(InvalidInput, match="cancelled"):
            await incoming.link_reply(session, principal=lead, document_id=doc.id, outgoing_id=dropped)
    assert await _reply_id(db, doc.id) == reply
    # After the handling is done the reply can still be changed or removed, each step in the trail.
    async with db.session() as session:
        await incoming.link_reply(session, principal=lead, document_id=doc.id, outgoing_id=None)
    assert await _reply_id(db, doc.id) is None
    assert await _actions(db, doc.id) == ["incoming.reply_linked", "incoming.reply_unlinked"]


async def test_lead_drafts_the_reply_from_the_incoming_page(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    doc = await register(db, settings, issuer_name="Sở Y tế tỉnh Bến Tre", notation="312/SYT-NVY")
    await direct_to(db, doc.id, lead="thu.le")
    officer = await client_for(db)
    await sign_in(officer, "thu.le")
    page = await officer.get(f"/incoming/{doc.id}")
    assert "Văn bản trả lời" in page.text and f"/outgoing/new?reply_to={doc.id}" in page.text

    form = await officer.get(f"/outgoing/new?reply_to={doc.id}")
    assert form.status_code == 200
    assert "Trả lời văn bản số 312/SYT-NVY" in form.text and f'name="reply_to" value="{doc.id}"' in form.text
    signer = re.search(r'name="signer_id"[^>]*>.*?<option value="(\d+)"', form.text, re.S).group(1)
    token = await csrf_of(officer, f"/outgoing/new?reply_to={doc.id}")
    created = await officer.post(
        "/outgoing",
        data={
            "csrf_token": token,
            "reply_to": str(doc.id),
            "doc_type": "CV",
            "signer_id": signer,
            "subject": "Trả lời văn bản số 312/SYT-NVY của Sở Y tế tỉnh Bến Tre",
            "body": "Hội LHPN tỉnh thống nhất phối hợp.",
            "external_recipients": "Sở Y tế tỉnh Bến Tre",
            "authority_prefix": "TM.",
            "authority_line": "BAN THƯỜNG VỤ",
        },
    )
    assert created.status_code == 303, created.text[:500]
    reply_id = int(created.headers["location"].split("/")[2].split("?")[0])
    assert await _reply_id(db, doc.id) == reply_id
    assert await _actions(db, doc.id) == ["incoming.reply_linked"]

    page = await officer.get(f"/incoming/{doc.id}")
    assert f'href="/outgoing/{reply_id}"' in page.text and "Gắn văn bản trả lời" in page.text  # link + trail
    outgoing_page = await officer.get(f"/outgoing/{reply_id}")
    assert "Trả lời văn bản" in outgoing_page.text and f'href="/incoming/{doc.id}"' in outgoing_page.text

    # The clerk sees the link but may not change it; another organisation may not draft a reply to it.
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    token = await csrf_of(clerk, f"/incoming/{doc.id}")
    refused = await clerk.post(f"/incoming/{doc.id}/reply", data={"csrf_token": token, "outgoing_id": ""})
    assert refused.status_code == 403 and "người xử lý chính" in refused.text
    assert await _reply_id(db, doc.id) == reply_id
    stranger = await client_for(db)
    await sign_in(stranger, "chauthanh.chuyenvien")
    assert (await stranger.get(f"/outgoing/new?reply_to={doc.id}")).status_code == 404
