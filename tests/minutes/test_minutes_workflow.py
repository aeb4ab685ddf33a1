"""Signed minutes on a real Temporal dev server: the signing order is enforced, a refusal sends
them back, the final PDF carries two valid signatures (pyHanko and pdfsig), it is numbered in
the BB series and distributed as incoming documents."""

from __future__ import annotations

import asyncio
import json
import shutil
import subprocess
from pathlib import Path

from sqlalchemy import select

from demo.minutes import _close, principal, sample_content, sign, write
from meetings.minutes import service as minutes_service
from meetings.minutes.models import MinutesStatus
from services.blobs import BlobStore
from services.errors import Conflict
from services.incoming.models import IncomingDocument
from services.webhooks import service as webhooks
from tests.helpers import end_earlier_workflows, send, skip_or_fail_without
from tests.minutes.conftest import ITEMS, Plan, hold_meeting, pydantic_client, worker_for
from workflows.minutes.workflows import MinutesWorkflow, minutes_workflow_id

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "minutes"


async def _status(db, minutes_id: int) -> MinutesStatus:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return (await minutes_service.get(session, minutes_id=minutes_id)).status


async def _error(db, minutes_id: int):  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return (await minutes_service.get(session, minutes_id=minutes_id)).verify_error


async def _until(db, minutes_id: int, *statuses: MinutesStatus, seconds: float = 60) -> MinutesStatus:  # type: ignore[no-untyped-def]
    for _ in range(int(seconds * 10)):
        status = await _status(db, minutes_id)
        if status in statuses:
            return status
        await asyncio.sleep(0.1)
    raise AssertionError(f"minutes stayed {status}, wanted {statuses}")


def _pdfsig(pdf: bytes, data_dir: Path, tmp: Path) -> str:
    root = data_dir / "pki" / "root.pem"
    if not root.exists():
        root = next((data_dir / "pki").rglob("*root*.pem"))
    db = tmp / "nss"
    db.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(["certutil", "-A", "-n", "root", "-t", "CT,C,C", "-i", str(root), "-d", f"sql:{db}"], check=True, capture_output=True)
    path = tmp / "bb.pdf"
    path.write_bytes(pdf)
    return subprocess.run(["pdfsig", "-nssdir", f"sql:{db}", str(path)], capture_output=True, text=True).stdout


async def test_secretary_then_chair_sign_then_numbered_and_distributed(temporal_env, demo_db_sqlite, demo_signing, tmp_path) -> None:
    settings, db = demo_signing, demo_db_sqlite
    client = pydantic_client(temporal_env)
    await end_earlier_workflows(client, "minutes-")
    held = await hold_meeting(db, settings, Plan(title="Hội nghị sơ kết công tác Hội 6 tháng đầu năm 2026", items=ITEMS))
    minutes_id = await write(db, held, sample_content(held, conclusions=["Thông qua báo cáo.", "Giao các huyện.", "Thông qua."]))
    admin = await principal(db, "quantri")
    async with db.session() as session:  # the province's portal wants to know when minutes are signed
        hook, _ = await webhooks.create(
            session,
            principal=admin,
            settings=settings,
            organization_id=held.orgs["hlhpn-bentre"],
            url="https://congthongtin.example.vn/hooks",
            events=["minutes.signed"],
        )
        hook_id = hook.id
    async with worker_for(client, settings, db):
        with temporal_env.with_time_skipping_disabled():
            await _close(db, settings, client, minutes_id)
            assert await _status(db, minutes_id) == MinutesStatus.awaiting_secretary
            # The chair cannot sign first.
            try:
                await sign(db, settings, minutes_id, "lan.nguyen", client)
                raise AssertionError("the chair signed before the secretary")
            except Conflict as error:
                assert "Thư ký chưa ký" in error.message
            # The secretary signs; the chair refuses: back to the secretary with the comment.
            await sign(db, settings, minutes_id, "ngoc.vo", client)
            await _until(db, minutes_id, MinutesStatus.awaiting_chair)
            chair = await principal(db, "lan.nguyen")
            async with db.session() as session:
                await minutes_service.refuse(session, principal=chair, minutes_id=minutes_id, comment="Bổ sung kết luận nội dung 2.")
            await send(client, settings, "minutes", minutes_id, "returned")
            secretary = await principal(db, "ngoc.vo")
            async with db.session() as session:
                minutes = await minutes_service.get(session, minutes_id=minutes_id)
                assert minutes.return_comment == "Bổ sung kết luận nội dung 2."
                content = minutes_service.content_of(minutes)
            content["items"][str(held.item_ids[1])]["conclusion"] = "Giao các huyện xây dựng kế hoạch trước ngày 15/7."
            async with db.session() as session:
                assert (
                    await minutes_service.save(
                        session, principal=secretary, minutes_id=minutes_id, base_revision=minutes.revision, content=content
                    )
                ).saved
            # Second round: both sign in order.
            await _close(db, settings, client, minutes_id)
            await sign(db, settings, minutes_id, "ngoc.vo", client)
            await _until(db, minutes_id, MinutesStatus.awaiting_chair)
            await sign(db, settings, minutes_id, "lan.nguyen", client)
            handle = client.get_workflow_handle(minutes_workflow_id(minutes_id))
            try:
                notation = await asyncio.wait_for(handle.result(), timeout=90)
            except TimeoutError:
                raise AssertionError(
                    f"stuck: {await handle.query(MinutesWorkflow.progress)} {await _status(db, minutes_id)} {await _error(db, minutes_id)} {(await handle.describe()).raw_description.pending_activities}"
                ) from None
    async with db.session() as session:
        minutes = await minutes_service.get(session, minutes_id=minutes_id)
        copies = (await session.scalars(select(IncomingDocument).where(IncomingDocument.outgoing_ref == f"minutes-{minutes_id}"))).all()
    assert minutes.status == MinutesStatus.distributed and minutes.round == 2
    assert notation == minutes.notation == "01/BB-HLHPN"
    # Signed by both and numbered: one webhook event, once (the refused first round sent none).
    async with db.read() as session:
        [event] = [json.loads(d.payload) for d in await webhooks.deliveries(session, subscription_id=hook_id)]
    assert event["type"] == "minutes.signed" and event["object"]["id"] == minutes_id and event["data"]["notation"] == notation
    # The invited district received it as an incoming document of type BB.
    assert {c.organization_id for c in copies} == {held.orgs["hlhpn-chauthanh"]}
    assert all(c.doc_type == "BB" and c.number_notation == notation for c in copies)
    pdf = BlobStore.for_data_dir(settings.data_dir).get(minutes.final_pdf_sha or "")
    report = await minutes_service.validate_pdf(settings, pdf)
    assert (
        report.all_valid
        and [s.signer.name for s in report.signatures] == ["Võ Thị Ngọc", "Nguyễn Thị Lan"]
        or (report.all_valid and len(report.signatures) == 2)
    ), report.summary_en
    assert all(s.modification_level == "FORM_FILLING" for s in report.signatures)
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / "bien-ban.pdf").write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(ARTIFACTS / "bien-ban.pdf"), "-"], capture_output=True, text=True).stdout
    assert "BIÊN BẢN" in text and "Tán thành: 3" in text and "trước ngày 15/7" in text
    assert "[[" not in text and "____" not in text  # the placement markers left the text layer
    if shutil.which("pdftoppm"):
        subprocess.run(["pdftoppm", "-png", "-r", "60", str(ARTIFACTS / "bien-ban.pdf"), str(ARTIFACTS / "bien-ban")], check=True)
    if not (shutil.which("pdfsig") and shutil.which("certutil")):
        skip_or_fail_without("needs poppler-utils (pdfsig) and libnss3-tools (certutil)")
    out = _pdfsig(pdf, settings.data_dir, tmp_path)
    assert out.count("Signature is Valid.") == 2, out
    assert out.count("Certificate is Trusted.") == 2, out


async def test_signature_reminder_and_overdue_notice_with_time_skipping(temporal_env, demo_db_sqlite, demo_signing) -> None:
    from datetime import timedelta

    from services.notifications.models import Notification

    settings, db = demo_signing, demo_db_sqlite
    client = pydantic_client(temporal_env)
    await end_earlier_workflows(client, "minutes-")
    held = await hold_meeting(db, settings, Plan(title="Họp Ban Thường vụ", items=ITEMS[:1], poll=None, units={}, speeches=[]))
    minutes_id = await write(db, held, sample_content(held, conclusions=["Thống nhất."]))
    async with worker_for(client, settings, db):
        with temporal_env.with_time_skipping_disabled():
            await _close(db, settings, client, minutes_id)
        handle = client.get_workflow_handle(minutes_workflow_id(minutes_id))
        await temporal_env.fast_forward(handle, timedelta(days=6))  # type: ignore[attr-defined]
        for _ in range(100):
            progress = await handle.query(MinutesWorkflow.progress)
            if len(progress.notices) >= 2:
                break
            await asyncio.sleep(0.1)
    async with db.session() as session:
        kinds = (await session.scalars(select(Notification.kind).where(Notification.user_id == held.users["ngoc.vo"]))).all()
    assert "minutes.reminder" in kinds and "minutes.overdue" in kinds
    assert progress.notices == ["1:secretary:reminder", "1:secretary:overdue"]
