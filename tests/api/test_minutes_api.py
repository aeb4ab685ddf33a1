"""The public API (/api/v1) for minutes, driven as an integrator's script would: started and
saved on ETags (a save on a stale ETag is refused with 409, nothing overwritten), idempotent
retries, tasks from a conclusion, closed for signatures, signed with the signer's PIN (issue 17)."""

from __future__ import annotations

import uuid

from sqlalchemy import select

from demo.minutes import DEMO_PIN
from meetings.minutes import service as minutes_service
from services.outbox.models import OutboxCommand
from signing.convert import get_converter
from tests.api.test_incoming_api import _bearer
from tests.minutes.conftest import ITEMS, Plan, hold_meeting

PROBLEM = "application/problem+json"


def _text(item_id: int, discussion: str) -> dict[str, object]:
    return {"content": {"opening": "Khai mạc lúc 8 giờ.", "items": {str(item_id): {"discussion": discussion, "conclusion": "Thống nhất."}}}}


async def _held(db, settings):  # type: ignore[no-untyped-def]
    plan = Plan(title="Họp giao ban tháng", items=ITEMS[:2], poll=None, units={}, speeches=[("thu.le", 0, "")])
    return await hold_meeting(db, settings, plan)


async def _signals(db, minutes_id: int) -> list[str | None]:  # type: ignore[no-untyped-def]
    async with db.read() as session:
        rows = await session.scalars(
            select(OutboxCommand.signal).where(OutboxCommand.kind == "minutes", OutboxCommand.object_id == minutes_id)
        )
        return list(rows.all())


async def test_minutes_are_saved_on_etags_and_closed_for_signing(demo_db_sqlite, settings, client_for) -> None:
    db = demo_db_sqlite
    held = await _held(db, settings)
    api = await client_for(db)
    secretary, chair, member = [await _bearer(db, u) for u in ("ngoc.vo", "lan.nguyen", "thu.le")]
    mid, item = held.meeting_id, held.item_ids[0]

    missing = await api.get(f"/api/v1/meetings/{mid}/minutes", headers=secretary)
    assert missing.status_code == 404 and missing.headers["content-type"] == PROBLEM
    assert (await api.post(f"/api/v1/meetings/{mid}/minutes/start", headers=member)).status_code == 403  # a reader, not an editor
    started = await api.post(f"/api/v1/meetings/{mid}/minutes/start", headers=secretary)
    assert started.status_code == 200, started.text
    minutes = started.json()
    url = f"/api/v1/minutes/{minutes['id']}"
    assert minutes["status"] == "draft" and minutes["revision"] == 0 and minutes["editable"]
    assert started.headers["etag"] == minutes["etag"]
    assert (await api.get(f"/api/v1/meetings/{mid}/minutes", headers=member)).json()["id"] == minutes["id"]

    # The secretary saves on the ETag read; the chair, still on the old ETag, is refused.
    key = str(uuid.uuid4())
    saved = await api.post(
        f"{url}/save", headers={**secretary, "if-match": minutes["etag"], "idempotency-key": key}, json=_text(item, "Ý kiến A")
    )
    assert saved.status_code == 200, saved.text
    assert saved.json()["revision"] == 1 and saved.headers["etag"] != minutes["etag"]
    assert saved.json()["content"]["items"][str(item)]["discussion"] == "Ý kiến A"
    retried = await api.post(
        f"{url}/save", headers={**secretary, "if-match": minutes["etag"], "idempotency-key": key}, json=_text(item, "Ý kiến A")
    )
    assert retried.status_code == 200 and retried.headers["idempotent-replayed"] == "true" and retried.json()["revision"] == 1
    stale = await api.post(f"{url}/save", headers={**chair, "if-match": minutes["etag"]}, json=_text(item, "Ý kiến B"))
    assert stale.status_code == 409 and stale.headers["content-type"] == PROBLEM
    problem = stale.json()
    assert problem["details"]["current_etag"] == saved.headers["etag"] and problem["details"]["current_revision"] == 1
    assert "1" in problem["detail_en"] and problem["detail_vi"] != problem["detail_en"]
    now = (await api.get(url, headers=member)).json()
    assert now["revision"] == 1 and now["content"]["items"][str(item)]["discussion"] == "Ý kiến A"  # nothing overwritten
    # Saved again on the new ETag (or naming the revision in the body).
    merged = await api.post(f"{url}/save", headers={**chair, "if-match": saved.headers["etag"]}, json=_text(item, "Ý kiến A và B"))
    assert merged.status_code == 200 and merged.json()["revision"] == 2 and merged.json()["updated_by"] == "Nguyễn Thị Lan"
    body_based = await api.post(f"{url}/save", headers=secretary, json={**_text(item, "Ý kiến A, B"), "base_revision": 1})
    assert body_based.status_code == 409 and body_based.json()["details"]["current_revision"] == 2
    unbased = await api.post(f"{url}/save", headers=secretary, json=_text(item, "x"))
    assert unbased.status_code == 422 and unbased.headers["content-type"] == PROBLEM
    not_json = await api.post(f"{url}/save", headers={**secretary, "if-match": merged.headers["etag"]}, json={"content": "văn bản"})
    assert not_json.status_code == 422 and "content" in not_json.json()["detail"]
    reader = await api.post(f"{url}/save", headers={**member, "if-match": merged.headers["etag"]}, json=_text(item, "x"))
    assert reader.status_code == 403 and reader.headers["content-type"] == PROBLEM

    history = (await api.get(f"{url}/revisions", headers=member, params={"limit": 1})).json()
    assert history["items"][0]["number"] == 2 and history["next_cursor"] == "1"
    rest = (await api.get(f"{url}/revisions", headers=member, params={"cursor": history["next_cursor"]})).json()
    assert [r["number"] for r in rest["items"]] == [1] and rest["next_cursor"] is None
    first = (await api.get(f"{url}/revisions/{rest['items'][0]['id']}", headers=member)).json()
    assert first["content"]["items"][str(item)]["discussion"] == "Ý kiến A"

    task = await api.post(
        f"{url}/tasks",
        headers=secretary,
        json={
            "item_id": item,
            "title": "Tổng hợp ý kiến",
            "owner_kind": "user",
            "owner_id": held.users["thu.le"],
            "due_date": "2099-12-31",
        },
    )
    assert task.status_code == 200, task.text
    assert [t["title"] for t in task.json()["tasks"]] == ["Tổng hợp ý kiến"]
    assert task.json()["revision"] == 2  # a task does not change the text

    # Closing names the revision reviewed: an older one is refused; the current one submits.
    old = await api.post(f"{url}/close", headers={**secretary, "if-match": saved.headers["etag"]}, json={})
    assert old.status_code == 409 and old.headers["content-type"] == PROBLEM
    closed = await api.post(f"{url}/close", headers={**secretary, "if-match": merged.headers["etag"]}, json={})
    assert closed.status_code == 200, closed.text
    assert closed.json()["status"] == "rendering" and closed.json()["round"] == 1 and not closed.json()["editable"]
    assert "closed" in await _signals(db, minutes["id"])  # the workflow produces the Biên bản
    late = await api.post(f"{url}/save", headers={**secretary, "if-match": merged.headers["etag"]}, json=_text(item, "x"))
    assert late.status_code == 409


async def test_the_awaited_signer_signs_with_the_pin_and_a_signer_returns(demo_db_sqlite, demo_signing, client_for) -> None:
    db, settings = demo_db_sqlite, demo_signing
    held = await _held(db, settings)
    api = await client_for(db)
    secretary, chair = await _bearer(db, "ngoc.vo"), await _bearer(db, "lan.nguyen")
    minutes = (await api.post(f"/api/v1/meetings/{held.meeting_id}/minutes/start", headers=secretary)).json()
    url = f"/api/v1/minutes/{minutes['id']}"
    assert (await api.post(f"{url}/close", headers=secretary, json={"revision": 0})).status_code == 200
    async with db.session() as session:  # what the workflow's activity does once the minutes are closed (LibreOffice)
        assert await minutes_service.render(session, settings=settings, minutes_id=minutes["id"], round_=1, converter=get_converter())
    waiting = (await api.get(url, headers=secretary)).json()
    assert waiting["status"] == "awaiting_secretary" and waiting["my_turn"] == "secretary" and waiting["files"]["pdf_url"]

    early = await api.post(f"{url}/sign", headers=chair, json={"pin": DEMO_PIN})
    assert early.status_code == 409 and early.headers["content-type"] == PROBLEM  # the chair signs after the secretary
    empty = await api.post(f"{url}/sign", headers=secretary, json={"pin": " "})
    assert empty.status_code == 422 and empty.headers["content-type"] == PROBLEM
    wrong = await api.post(f"{url}/sign", headers=secretary, json={"pin": "000000"})
    assert wrong.status_code in (403, 422) and wrong.headers["content-type"] == PROBLEM
    key = str(uuid.uuid4())
    signed = await api.post(f"{url}/sign", headers={**secretary, "idempotency-key": key}, json={"pin": DEMO_PIN})
    assert signed.status_code == 200, signed.text
    assert signed.json()["secretary_signed_at"] and signed.json()["my_turn"] is None and signed.json()["files"]["signed_url"]
    again = await api.post(f"{url}/sign", headers={**secretary, "idempotency-key": key}, json={"pin": DEMO_PIN})
    assert again.status_code == 200 and again.headers["idempotent-replayed"] == "true"
    assert "signed" in await _signals(db, minutes["id"])  # the workflow checks the signature
    # The chair may send them back with a comment only once it is their turn; the secretary may now.
    returned = await api.post(f"{url}/return", headers=secretary, json={"comment": "Sửa phần kết luận"})
    assert returned.status_code == 200 and returned.json()["status"] == "returned" and returned.json()["editable"]
    assert returned.json()["return_comment"] == "Sửa phần kết luận" and "returned" in await _signals(db, minutes["id"])
