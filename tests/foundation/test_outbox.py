"""No lost step: with the Temporal server killed (SIGKILL), users keep working (register, direct,
sign, issue, vote) and their changes wait in the outbox; once the server is back every workflow
start, signal, notification, deadline notice and delivery happens exactly once. A reconciliation repairs an open object whose workflow is missing."""

from __future__ import annotations

import asyncio
import os
import signal

from sqlalchemy import func, or_, select
from temporalio.client import Client
from temporalio.service import RetryConfig

from demo.directory import DEMO_PIN
from meetings.models import PollOption, PollVoter
from services.audit.models import AuditEntry
from services.audit.service import verify_database
from services.calendar import vn_today
from services.deadlines.models import DeadlineNotice
from services.directory.models import Organization
from services.incoming.models import IncomingDocument
from services.notifications.models import Notification
from services.outbox import service as outbox
from services.outbox.models import OutboxCommand
from services.outgoing.models import OutgoingDocument, OutgoingRecipient
from tests.helpers import csrf_of, end_earlier_workflows, free_port, sign_in, wait_for
from tests.incoming.conftest import (
    org_id,
    pydantic_client,
    register,
    user_id,
)
from tests.outgoing import flow
from tests.signing.conftest import make_tiny_pdf
from web.runtime import start_temporal_dev_server
from workflows.client import data_converter
from workflows.context import ActivityContext
from workflows.relay import OutboxRelay
from workflows.worker import build_worker


async def _eventually(check, what: str, timeout: float = 120.0):  # type: ignore[no-untyped-def]
    """Wait for a condition (not a fixed time): polls until `check()` is truthy."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        result = await check()
        if result is not None and result is not False and result != []:
            return result
        assert loop.time() < deadline, f"timed out waiting for {what}"
        await asyncio.sleep(0.2)


async def _pending(database) -> int:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(OutboxCommand).where(OutboxCommand.delivered_at.is_(None)))


def _links_to(path: str):  # type: ignore[no-untyped-def]
    """Notifications linking to `path` (with or without a query or anchor, not `path` + digits)."""
    return or_(Notification.link == path, Notification.link.like(f"{path}?%"), Notification.link.like(f"{path}#%"))


async def _notices(database, doc_id: int) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        rows = (await session.execute(select(Notification.user_id, Notification.kind).where(_links_to(f"/incoming/{doc_id}")))).all()
    return sorted((r.user_id, r.kind) for r in rows)


async def test_work_done_while_temporal_is_down_reaches_its_workflows_once(
    demo_db_sqlite,
    client_for,
    demo_signing,
    tmp_path,
) -> None:
    """Temporal is SIGKILLed; from the pages a clerk registers, a leader directs, the leader signs
    an outgoing document with the PIN, the clerk numbers, seals and issues it, a member votes: every
    page answers and shows the change at once. Temporal comes back on the same port and history
    file: every notice, the deadline reminder and the delivery to each recipient happen once."""
    db, settings = demo_db_sqlite, demo_signing
    port, ui_port = free_port(), free_port()
    temporal_dir = tmp_path / "temporal"
    server = await start_temporal_dev_server(data_dir=temporal_dir, port=port, ui_port=ui_port)
    try:
        # The app's client, a call retried every 0.3 s at most (the SDK backs off to 5 s): with the
        # server gone, the relay's delivery fails (awaited below) after ~3 s of retries, not 10.
        client = await Client.connect(
            f"127.0.0.1:{port}",
            namespace=settings.temporal_namespace,
            data_converter=data_converter(settings),
            retry_config=RetryConfig(max_interval_millis=300),
        )
        async with build_worker(client, task_queue=settings.task_queue, context=ActivityContext(settings, db)):
            # The pages hold a client of this server (a route awaiting Temporal would hang on it);
            # the outbox relay runs beside them.
            clerk, leader, member = [await client_for(db, client) for _ in range(3)]
            for web, username in ((clerk, "mai.tran"), (leader, "lan.nguyen"), (member, "thu.le")):
                await sign_in(web, username)

            # Before: an outgoing document waits for the leader's signature (its workflow rendered
            # the PDF), and a meeting is open with a vote under way and the member checked in.
            outgoing_id = await flow.draft(db, settings, doc_type="QĐ", external=())
            await flow.submit_direct(db, outgoing_id)
            async with db.session() as session:
                await outbox.tell(session, "outgoing", outgoing_id, "changed", "submitted")
            await _eventually(lambda: _prepared(db, outgoing_id), "the PDF to sign")
            meeting_id, poll_id, option_id = await _open_vote(db, settings)
            await _eventually(lambda: _none_pending(db), "the outbox to drain before the crash")

            # Temporal goes away (a crash, not a graceful stop).
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()

            # The clerk registers two documents from the page: it works, and the page shows it.
            doc_id = await _register_on_page(db, clerk, "21/SNV-VP")
            page = await clerk.get(f"/incoming/{doc_id}")
            assert page.status_code == 200 and "Chờ bút phê" in page.text
            other_id = await _register_on_page(db, clerk, "22/SNV-VP")

            # The leader directs the second, due today: its reminder is already due.
            lead_id = await user_id(db, "thu.le")
            token = await csrf_of(leader, f"/incoming/{other_id}")
            response = await leader.post(
                f"/incoming/{other_id}/direct",
                data={
                    "instruction": "Ban Tổ chức chủ trì rà soát, báo cáo.",
                    "lead": f"user:{lead_id}",
                    "due_date": vn_today().isoformat(),
                    "csrf_token": token,
                },
            )
            assert response.status_code == 303, response.text[:500]
            assert "Ban Tổ chức chủ trì rà soát" in (await leader.get(f"/incoming/{other_id}")).text

            # The leader signs the outgoing document with the PIN; the clerk numbers, seals, issues.
            token = await csrf_of(leader, f"/outgoing/{outgoing_id}")
            response = await leader.post(f"/outgoing/{outgoing_id}/sign", data={"pin": DEMO_PIN, "csrf_token": token})
            assert response.status_code == 303, response.text[:800]
            assert "Đã ký, chờ phát hành" in (await leader.get(f"/outgoing/{outgoing_id}")).text
            token = await csrf_of(clerk, f"/outgoing/{outgoing_id}")
            response = await clerk.post(f"/outgoing/{outgoing_id}/issue", data={"pin": DEMO_PIN, "csrf_token": token})
            assert response.status_code == 303, response.text[:800]
            async with db.read() as session:
                notation = (await session.get(OutgoingDocument, outgoing_id)).notation
            page = await clerk.get(response.headers["location"])
            assert notation and f"Đã phát hành với số {notation}" in page.text

            # The member votes; the room's state shows the ballot counted.
            token = await csrf_of(member, f"/meetings/{meeting_id}/room")
            response = await member.post(
                f"/meetings/{meeting_id}/live/vote",
                json={"poll_id": poll_id, "option_id": option_id},
                headers={"x-csrf-token": token, "accept": "application/json"},
            )
            assert response.status_code == 200, response.text[:500]
            room = (await member.get(f"/meetings/{meeting_id}/state.json")).json()
            assert [p["turnout"] for p in room["polls"] if p["id"] == poll_id] == [1]
            assert room["me"]["votes"][str(poll_id)]["voted"] is True

            # The relay tried and failed; nothing was lost, nothing delivered.
            await _eventually(lambda: _attempted(db), "a failed delivery attempt")
            assert await _pending(db) >= 5  # two registrations, a direction, a signature, an issue
            assert await _notices(db, doc_id) == []
            assert await _copies(db, outgoing_id) == []

            # Temporal comes back on the same port and history file.
            server = await start_temporal_dev_server(data_dir=temporal_dir, port=port, ui_port=ui_port)
            async with db.session() as session:  # wake the relay instead of waiting out its backoff
                await session.execute(OutboxCommand.__table__.update().values(due_at=func.now()))
            await _eventually(lambda: _none_pending(db), "the outbox to drain")

            # Each workflow runs once and acts on the latest state: the leader is told about the
            # registered document; the directed one reaches its lead handler with its reminder;
            # each district gets one copy of the issued document and the workflow ends.
            first = await _eventually(lambda: _notices(db, doc_id), "the leader's notice")
            second = await _eventually(
                lambda: _with_kind(_notices(db, other_id), "incoming.reminder"), "the lead handler's notice and reminder"
            )
            copies = await _eventually(lambda: _copies(db, outgoing_id, 3), "one copy in each district")
            handle = client.get_workflow_handle(f"outgoing-{outgoing_id}")
            assert await _eventually(lambda: _completed(handle), "the outgoing workflow to end")
            for copy_id in [c for c, _org in copies]:
                await _eventually(lambda copy_id=copy_id: _notices(db, copy_id), f"the notice of copy {copy_id}")

            async with db.read() as session:
                districts = set(
                    (
                        await session.scalars(
                            select(Organization.id).where(Organization.code.in_(("hlhpn-tpbentre", "hlhpn-chauthanh", "hlhpn-mocaynam")))
                        )
                    ).all()
                )
                duplicates = (
                    await session.execute(
                        select(Notification.user_id, Notification.kind, Notification.link, func.count())
                        .group_by(Notification.user_id, Notification.kind, Notification.link)
                        .having(func.count() > 1)
                    )
                ).all()
                reminders = await session.scalar(
                    select(func.count())
                    .select_from(DeadlineNotice)
                    .where(DeadlineNotice.object_kind == "incoming", DeadlineNotice.object_id == other_id)
                )
                issued_notices = await session.scalar(
                    select(func.count())
                    .select_from(Notification)
                    .where(Notification.kind == "outgoing.issued", _links_to(f"/outgoing/{outgoing_id}"))
                )
                ballots = await session.scalar(select(func.count()).select_from(PollVoter).where(PollVoter.poll_id == poll_id))
                counted = await session.scalar(select(func.sum(PollOption.votes)).where(PollOption.poll_id == poll_id))
                votes = await session.scalar(select(func.count()).select_from(AuditEntry).where(AuditEntry.action == "meeting.voted"))
                verified = await verify_database(session, data_dir=settings.data_dir)
            assert sorted(org for _c, org in copies) == sorted(districts)  # one copy per recipient
            assert duplicates == []  # no notice twice to anyone
            assert await _notices(db, doc_id) == first and await _notices(db, other_id) == second
            assert ("incoming.reminder" in {k for _u, k in second}) and reminders == 1
            assert issued_notices >= 1
            assert (ballots, counted, votes) == (1, 1, 1)
            assert verified.ok, verified
    finally:
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.wait()


async def _register_on_page(database, clerk, notation: str) -> int:  # type: ignore[no-untyped-def]
    token = await csrf_of(clerk, "/incoming/new")
    province = await org_id(database, "hlhpn-bentre")
    response = await clerk.post(
        "/incoming",
        data={
            "organization_id": str(province),
            "issuer_name": "Sở Nội vụ",
            "number_notation": notation,
            "document_date": "2026-11-30",
            "doc_type": "CV",
            "subject": "Về việc rà soát biên chế năm 2027",
            "urgency": "normal",
            "secrecy": "normal",
            "arrival_date": vn_today().isoformat(),
            "csrf_token": token,
        },
        files=[("files", ("cv.pdf", make_tiny_pdf(notation), "application/pdf"))],
    )
    assert response.status_code == 303, response.text[:500]
    return int(response.headers["location"].split("/")[2].split("?")[0])


async def _open_vote(database, settings) -> tuple[int, int, int]:  # type: ignore[no-untyped-def]
    """An open meeting (its workflow told, as the pages do), the member thu.le checked in and a
    vote opened by the chair: (meeting, poll, the "yes" option)."""
    from meetings import attendance, polls, scheduling
    from tests.meetings.factory import build_meeting, principal

    meeting_id = (await build_meeting(database, settings, units=())).meeting_id
    chair, member = await principal(database, "lan.nguyen"), await principal(database, "thu.le")
    async with database.session() as session:
        await outbox.tell(session, "meeting", meeting_id, None)
    async with database.session() as session:
        await scheduling.open_meeting(session, principal=chair, meeting_id=meeting_id)
        await outbox.tell(session, "meeting", meeting_id, "opened")
    async with database.session() as session:
        await attendance.check_in(session, principal=member, meeting_id=meeting_id)
    async with database.session() as session:
        poll = await polls.open_poll(session, principal=chair, meeting_id=meeting_id, question="Thông qua chương trình phối hợp năm 2027")
        yes = await session.scalar(select(PollOption.id).where(PollOption.poll_id == poll.id, PollOption.key == "yes"))
        return meeting_id, poll.id, yes


async def _prepared(database, document_id: int) -> bool:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        return bool((await session.get(OutgoingDocument, document_id)).prepared_pdf_sha)


async def _copies(database, outgoing_id: int, expected: int | None = None) -> list[tuple[int, int]]:  # type: ignore[no-untyped-def]
    """(incoming id, organisation) of the copies delivered; with `expected`, [] until that many
    were delivered and marked so on the sender's side."""
    async with database.read() as session:
        rows = (
            await session.execute(
                select(IncomingDocument.id, IncomingDocument.organization_id).where(
                    IncomingDocument.outgoing_ref == f"outgoing-{outgoing_id}"
                )
            )
        ).all()
        delivered = await session.scalar(
            select(func.count())
            .select_from(OutgoingRecipient)
            .where(OutgoingRecipient.document_id == outgoing_id, OutgoingRecipient.delivered_at.is_not(None))
        )
    if expected is not None and (len(rows) < expected or delivered < expected):
        return []
    return sorted((r.id, r.organization_id) for r in rows)


async def _with_kind(notices, kind: str):  # type: ignore[no-untyped-def]
    found = await notices
    return found if kind in {k for _u, k in found} else []


async def _completed(handle) -> bool:  # type: ignore[no-untyped-def]
    from temporalio.client import WorkflowExecutionStatus

    try:
        return (await handle.describe()).status == WorkflowExecutionStatus.COMPLETED
    except Exception:  # noqa: BLE001 - not visible yet
        return False


def _bare_worker(client, settings, database):  # type: ignore[no-untyped-def]
    """A worker without the relay beside it: these tests drive the relay themselves."""
    import uuid

    settings.task_queue = f"outbox-{uuid.uuid4().hex[:8]}"
    return build_worker(client, task_queue=settings.task_queue, context=ActivityContext(settings, database))


async def _attempted(database) -> bool:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        return bool(await session.scalar(select(func.count()).select_from(OutboxCommand).where(OutboxCommand.attempts > 0)))


async def _none_pending(database) -> bool:  # type: ignore[no-untyped-def]
    return await _pending(database) == 0


async def test_reconciliation_starts_the_missing_workflow_of_an_open_object(
    demo_db_sqlite,
    temporal_env,
    settings,
) -> None:
    """A document registered before the outbox existed (or whose command was purged) is found
    open with no workflow, and one is started for it."""
    db = demo_db_sqlite
    doc = await register(db, settings, notation="30/SNV-VP")  # no command written
    client = pydantic_client(temporal_env)
    await end_earlier_workflows(client, "incoming-")  # IDs repeat across the fresh databases of tests
    relay = OutboxRelay(client, db, settings, reconcile_every=None)
    async with _bare_worker(client, settings, db):
        assert await relay.reconcile() >= 1
        assert await relay.deliver_due() >= 1
        handle = client.get_workflow_handle(f"incoming-{doc.id}")
        state = await _eventually(lambda: _revision(handle), "the workflow to read the document")
        assert state >= 0
        assert await relay.reconcile() == 0  # running now: nothing more to repair


async def _revision(handle) -> int | None:  # type: ignore[no-untyped-def]
    from workflows.incoming.workflows import IncomingWorkflow

    try:
        revision = (await handle.query(IncomingWorkflow.state)).revision
    except Exception:  # noqa: BLE001 - not started yet
        return None
    return revision if revision >= 0 else None


async def test_two_databases_beside_one_temporal_never_share_a_workflow(
    db_templates,
    temporal_env,
    settings,
    tmp_path,
) -> None:
    """Each database carries its own workflow-ID prefix (made by its migration): document 1 of a
    fresh database does not signal the workflow of document 1 of an older one."""
    from sqlalchemy import update

    from services.db import Database
    from services.outbox.models import Deployment

    client = pydantic_client(temporal_env)
    settings.workflow_id_prefix = None  # the default: the database's own prefix
    ids = []
    for name in ("old", "fresh"):
        database = Database(await db_templates.copy("sqlite", True, tmp_path / f"{name}.db"))
        async with database.session() as session:
            prefix = f"{name}-{tmp_path.name[-6:]}-"
            await session.execute(update(Deployment).values(workflow_prefix=prefix))
        doc = await register(database, settings, notation=f"40/{name}")
        async with database.session() as session:
            await outbox.tell(session, "incoming", doc.id)
        async with _bare_worker(client, settings, database):
            relay = OutboxRelay(client, database, settings, reconcile_every=None)
            assert await relay.deliver_due() == 1
            handle = client.get_workflow_handle(f"{prefix}incoming-{doc.id}")
            assert await _eventually(lambda: _revision(handle), f"{name}'s workflow") is not None
        ids.append((prefix, doc.id))
        await database.dispose()
    assert ids[0][1] == ids[1][1]  # the same document id in both databases …
    assert ids[0][0] != ids[1][0]  # … and two workflows


async def test_a_relay_keeps_its_claim_while_it_delivers_and_a_dead_relays_claim_lapses(demo_db_sqlite, settings) -> None:
    """The lease is short and renewed: while a relay's round lasts (here Temporal accepts the
    connection and never answers) no other relay takes its commands, long after the first lease ran
    out; a relay that died holding commands keeps them only until its lease runs out."""
    from datetime import timedelta

    from services.db import utcnow

    db, lease = demo_db_sqlite, timedelta(seconds=1)
    async with db.session() as session:
        await outbox.tell(session, "incoming", 1)
    silent = await asyncio.start_server(lambda reader, writer: None, "127.0.0.1", 0)
    port = silent.sockets[0].getsockname()[1]
    away = await Client.connect(f"127.0.0.1:{port}", lazy=True, data_converter=data_converter(settings))
    relay = OutboxRelay(away, db, settings, reconcile_every=None, lease=lease)
    round_ = asyncio.create_task(relay.deliver_due())
    try:

        async def claimed_by_the_round() -> bool:
            async with db.read() as session:
                due = await session.scalar(select(OutboxCommand.due_at))
            return due is not None and due > utcnow()

        await wait_for(claimed_by_the_round, timeout=30)
        async with db.read() as session:
            checked_until = await session.scalar(select(OutboxCommand.due_at)) + 2 * lease
        while utcnow() < checked_until:  # three leases of the round's
            async with db.session() as session:
                stolen = await outbox.claim(session, lease=lease)
            assert not stolen, "another relay took commands the running round still holds"
            assert not round_.done(), "the round ended: nothing was checked"
            await asyncio.sleep(0.1)
    finally:
        round_.cancel()
        await asyncio.gather(round_, return_exceptions=True)
        silent.close()

    # The round is gone without marking anything (a relay killed): due again once its lease ran out.
    async def due_again() -> bool:
        async with db.session() as session:
            return bool(await outbox.claim(session, lease=lease))

    assert await wait_for(due_again, timeout=30)
