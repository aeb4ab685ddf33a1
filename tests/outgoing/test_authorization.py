"""Outgoing documents: the services refuse an action to the wrong person on their own (403 when
the document is theirs to see, 404 when it is not), and the pages answer the same, never 422."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from services.authz import load_principal
from services.directory.models import User
from services.errors import Forbidden, NotFound
from services.outgoing import service as outgoing
from services.outgoing.models import Status
from tests.helpers import csrf_of, sign_in
from tests.outgoing import flow


async def _principal(session, username: str):  # type: ignore[no-untyped-def]
    return await load_principal(session, await session.scalar(select(User).where(User.username == username)))


async def _never_sealed(stamp):  # type: ignore[no-untyped-def]
    raise AssertionError("refused before sealing")


async def test_services_refuse_issue_recall_replace_and_cancel_on_their_own(demo_db_sqlite, og_settings, client_for) -> None:
    db, settings = demo_db_sqlite, og_settings
    doc_id = await flow.draft(db, settings, subject="Về việc tổng kết phong trào thi đua năm 2026")
    await flow.submit_direct(db, doc_id)
    await flow.render(db, settings, doc_id)

    # Signing from the page: someone else than the named signer gets 403, not a form error.
    officer_web = await client_for(db)
    await sign_in(officer_web, "thu.le")
    csrf = await csrf_of(officer_web, f"/outgoing/{doc_id}")
    refused = await officer_web.post(
        f"/outgoing/{doc_id}/sign", data={"csrf_token": csrf, "pin": "123456"}, headers={"accept": "application/json"}
    )
    assert refused.status_code == 403, refused.text

    await flow.sign(db, settings, doc_id)
    async with db.session() as session:
        officer, leader = await _principal(session, "thu.le"), await _principal(session, "lan.nguyen")
        district_clerk = await _principal(session, "chauthanh.vanthu")
        # Only a clerk of the issuing organisation issues: a leader is refused, a district's clerk
        # does not even see it; nothing is numbered.
        with pytest.raises(Forbidden):
            await outgoing.issue(session, settings=settings, principal=leader, actor=leader.actor, document_id=doc_id, seal=_never_sealed)
        with pytest.raises(NotFound):
            await outgoing.issue(
                session, settings=settings, principal=district_clerk, actor=district_clerk.actor, document_id=doc_id, seal=_never_sealed
            )
        assert (await outgoing.get(session, document_id=doc_id)).number is None
    await flow.issue(db, settings, doc_id)

    async with db.session() as session:
        doc = await outgoing.get(session, document_id=doc_id)
        for action in (outgoing.recall, outgoing.replace):
            with pytest.raises(Forbidden):
                await action(session, settings=settings, principal=officer, actor=officer.actor, doc=doc, reason="Thử")
            with pytest.raises(NotFound):
                await action(session, settings=settings, principal=district_clerk, actor=district_clerk.actor, doc=doc, reason="Thử")
        assert doc.status == Status.issued

    # The pages answer the same.
    for path in (f"/outgoing/{doc_id}/recall", f"/outgoing/{doc_id}/replace"):
        answer = await officer_web.post(path, data={"csrf_token": csrf, "reason": "Thử"}, headers={"accept": "application/json"})
        assert answer.status_code == 403, (path, answer.text)
    district_web = await client_for(db)
    await sign_in(district_web, "chauthanh.vanthu")
    d_csrf = await csrf_of(district_web, "/outgoing")
    answer = await district_web.post(
        f"/outgoing/{doc_id}/recall", data={"csrf_token": d_csrf, "reason": "Thử"}, headers={"accept": "application/json"}
    )
    assert answer.status_code == 404

    # Cancel: neither the drafter nor a leader → 403.
    other = await flow.draft(db, settings, subject="Về việc kiểm tra công tác Hội quý IV/2026")
    async with db.session() as session:
        clerk = await _principal(session, "mai.tran")
        with pytest.raises(Forbidden):
            await outgoing.cancel(
                session, actor=clerk.actor, principal=clerk, doc=await outgoing.get(session, document_id=other), reason="Thử"
            )
