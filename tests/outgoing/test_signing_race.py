"""A document that changes while its leader signs it is not recorded as signed: the check after
signing reads the document afresh (the session still holds it as it was before), and locks it
until the signature is recorded."""

from __future__ import annotations

import asyncio
import contextvars
from typing import Any

import pytest
from sqlalchemy import select, text

from demo.directory import DEMO_PIN
from services.authz import load_principal
from services.directory.models import User
from services.errors import Conflict
from services.outgoing import service as outgoing
from services.outgoing.models import Status
from signing import service as signing
from tests.helpers import other_waits_on_a_lock_or_is_done
from tests.outgoing import flow
from web import outgoing_signing


async def test_a_document_returned_while_it_is_signed_stays_returned(demo_db, og_settings, monkeypatch) -> None:
    db, settings = demo_db, og_settings
    doc_id = await flow.draft(db, settings)
    await flow.submit_direct(db, doc_id)
    await flow.render(db, settings, doc_id)
    validate = signing.validate

    async def validate_then_return(*args: Any, **kwargs: Any) -> Any:
        """Between the signature and its recording, the leader returns the draft from another device."""
        report = await validate(*args, **kwargs)
        # A context of its own, as another request has: this one's says a session is open.
        await asyncio.create_task(return_elsewhere(), context=contextvars.Context())
        return report

    async def return_elsewhere() -> None:
        async with db.session() as other:
            leader = await flow.user(other, "lan.nguyen")
            doc = await outgoing.get(other, document_id=doc_id)
            await outgoing.return_for_revision(other, actor=flow.actor_of(leader), doc=doc, comment="Sửa lại Điều 2.")

    monkeypatch.setattr(signing, "validate", validate_then_return)
    async with db.session() as session:
        leader = await session.scalar(select(User).where(User.username == "lan.nguyen"))
        principal = await load_principal(session, leader)  # type: ignore[arg-type]
        doc = await outgoing_signing.ready_to_sign(session, principal, doc_id)
        key = await outgoing_signing.open_leader_key(session, settings, principal, doc, DEMO_PIN)
        with pytest.raises(Conflict):
            await outgoing_signing.finish_signing(session, settings, principal, doc, key=key, upload=None)
    async with db.read() as session:
        doc = await outgoing.get(session, document_id=doc_id)
        assert doc.status == Status.returned and doc.leader_pdf_sha is None


@pytest.mark.postgres
async def test_a_return_racing_the_recorded_signature_waits_and_sees_it(demo_db_pg, og_settings) -> None:
    """The signature is being recorded (the document locked after signing) when the signer also
    presses "return" on another device. The return waits for the row, then sees the document
    signed and refuses; before, it had read the row unlocked and turned a signed document back
    into a draft that still carried the signature."""
    db, settings = demo_db_pg, og_settings
    doc_id = await flow.draft(db, settings)
    await flow.submit_direct(db, doc_id)
    await flow.render(db, settings, doc_id)
    checked, returned = asyncio.Event(), asyncio.Event()
    return_pid: list[int] = []
    outcome: list[str] = []

    async def record() -> None:  # web/outgoing_signing.finish_signing, once the PDF is signed
        async with db.session() as session:
            leader = await flow.user(session, "lan.nguyen")
            principal = await load_principal(session, leader)
            doc = await outgoing_signing.ready_to_sign(session, principal, doc_id, for_update=True)
            checked.set()
            await other_waits_on_a_lock_or_is_done(db, return_pid, returned)
            await outgoing.record_signature(
                session, settings=settings, actor=flow.actor_of(leader), doc=doc, pdf=b"%PDF-1.7 signed", method="pin", report_json=None
            )

    async def give_back() -> None:
        await checked.wait()
        try:
            async with db.session() as session:
                return_pid.append(await session.scalar(text("SELECT pg_backend_pid()")))
                leader = await flow.user(session, "lan.nguyen")
                doc = await outgoing.get(session, document_id=doc_id)
                await outgoing.return_for_revision(session, actor=flow.actor_of(leader), doc=doc, comment="Sửa lại Điều 2.")
            outcome.append("returned")
        except Conflict:
            outcome.append("refused")
        returned.set()

    async with asyncio.timeout(60):
        await asyncio.gather(record(), asyncio.create_task(give_back(), context=contextvars.Context()))
    assert outcome == ["refused"]
    async with db.read() as session:
        doc = await outgoing.get(session, document_id=doc_id)
        assert doc.status == Status.signed and doc.leader_pdf_sha is not None
