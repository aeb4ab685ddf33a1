"""No lost step: with the Temporal server killed (SIGKILL), users keep working and their changes
wait in the outbox; once the server is back every workflow start, signal and notification
happens exactly once. A reconciliation repairs an open object whose workflow is missing."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
from datetime import timedelta

from sqlalchemy import func, select

from services.incoming.models import IncomingDocument
from services.notifications.models import Notification
from services.outbox import service as outbox
from services.outbox.models import OutboxCommand
from tests.helpers import csrf_of, sign_in
from tests.incoming.conftest import direct_to, org_id, pydantic_client, register, terminate_incoming
from tests.signing.conftest import make_tiny_pdf
from web.runtime import start_temporal_dev_server
from workflows.client import connect
from workflows.context import ActivityContext
from workflows.relay import OutboxRelay
from workflows.worker import build_worker


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


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


async def _notices(database, doc_id: int) -> list[tuple[int, str]]:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        rows = (await session.execute(select(Notification.user_id, Notification.kind).where(
            Notification.link.like(f"/incoming/{doc_id}%")))).all()
    return sorted((r.user_id, r.kind) for r in rows)


async def test_changes_made_while_temporal_is_down_reach_their_workflows_once(
    demo_db_sqlite, client_for, settings, tmp_path,
) -> None:
    db = demo_db_sqlite
    port, ui_port = _free_port(), _free_port()
    temporal_dir = tmp_path / "temporal"
    server = start_temporal_dev_server(data_dir=temporal_dir, port=port, ui_port=ui_port)
    try:
        client = await connect(settings, f"127.0.0.1:{port}")
        worker = build_worker(client, task_queue=settings.task_queue, context=ActivityContext(settings, db))
        relay = OutboxRelay(client, db, settings, poll=timedelta(milliseconds=200), reconcile_every=None)
        async with worker:
            relay_task = asyncio.create_task(relay.run())
            try:
                # Temporal goes away (a crash, not a graceful stop).
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()

                # The clerk registers a document from the page: it works, and its command waits.
                web = await client_for(db)
                await sign_in(web, "mai.tran")
                token = await csrf_of(web, "/incoming/new")
                province = await org_id(db, "hlhpn-bentre")
                response = await web.post("/incoming", data={
                    "organization_id": str(province), "issuer_name": "Sở Nội vụ", "number_notation": "21/SNV-VP",
                    "document_date": "2026-11-30", "doc_type": "CV", "subject": "Về việc rà soát biên chế năm 2027",
                    "urgency": "normal", "secrecy": "normal", "arrival_date": "2026-12-01", "csrf_token": token,
                }, files=[("files", ("cv.pdf", make_tiny_pdf("cv"), "application/pdf"))])
                assert response.status_code == 303, response.text[:500]
                page = await web.get(response.headers["location"])
                assert page.status_code == 200 and "Chờ bút phê" in page.text  # shown at once
                doc_id = int(response.headers["location"].split("/")[2].split("?")[0])

                # The leader directs a second document (service + outbox in one transaction, as routes do).
                other = await register(db, settings, notation="22/SNV-VP")
                async with db.session() as session:
                    await outbox.tell(session, "incoming", other.id)
                await direct_to(db, other.id)
                async with db.session() as session:
                    await outbox.tell(session, "incoming", other.id)

                # The relay tried and failed; nothing was lost, nothing delivered.
                await _eventually(lambda: _attempted(db), "a failed delivery attempt")
                assert await _pending(db) >= 3
                assert await _notices(db, doc_id) == []

                # Temporal comes back on the same port and history file.
                server = start_temporal_dev_server(data_dir=temporal_dir, port=port, ui_port=ui_port)
                async with db.session() as session:  # wake the relay instead of waiting out its backoff
                    await session.execute(OutboxCommand.__table__.update().values(due_at=func.now()))
                await _eventually(lambda: _none_pending(db), "the outbox to drain")

                # Each workflow runs once and acts on the latest state: the leader is told about the
                # registered document once; the directed one reaches its lead handler once.
                first = await _eventually(lambda: _notices(db, doc_id), "the leader's notice")
                second = await _eventually(lambda: _notices(db, other.id), "the handler's notice")
                for wid in (f"incoming-{doc_id}", f"incoming-{other.id}"):
                    description = await client.get_workflow_handle(wid).describe()
                    assert description.status is not None
                assert await _notices(db, doc_id) == first and len(first) == len(set(first))
                assert await _notices(db, other.id) == second and len(second) == len(set(second))
                async with db.read() as session:
                    runs = await session.scalar(select(func.count()).select_from(IncomingDocument))
                assert runs == 2
            finally:
                relay_task.cancel()
                await asyncio.gather(relay_task, return_exceptions=True)
    finally:
        try:
            os.killpg(server.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
        server.wait()


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
    demo_db_sqlite, temporal_env, settings,
) -> None:
    """A document registered before the outbox existed (or whose command was purged) is found
    open with no workflow, and one is started for it."""
    db = demo_db_sqlite
    doc = await register(db, settings, notation="30/SNV-VP")  # no command written
    client = pydantic_client(temporal_env)
    await terminate_incoming(client)  # IDs repeat across the fresh databases of tests
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
    db_templates, temporal_env, settings, tmp_path,
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
