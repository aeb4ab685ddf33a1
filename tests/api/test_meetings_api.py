"""The public API (/api/v1) for meetings, driven as an integrator's script would: a meeting
prepared, scheduled and held over Bearer tokens (the live room's actions included: check in,
the floor, a vote), idempotent retries, problem details (issue 17)."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from sqlalchemy import func, select

from meetings.models import Meeting
from services.calendar import vn_today
from services.directory.models import Organization, User
from services.outbox.models import OutboxCommand
from tests.api.test_incoming_api import _bearer
from tests.signing.conftest import make_tiny_pdf

PROBLEM = "application/problem+json"


async def _ids(database) -> tuple[int, dict[str, int]]:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        org = await session.scalar(select(Organization.id).where(Organization.code == "hlhpn-bentre"))
        users = dict((await session.execute(select(User.username, User.id))).all())
    return org, users


async def _count(database) -> int:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(Meeting))


async def _told(database, kind: str, object_id: int) -> list[str | None]:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        rows = await session.scalars(select(OutboxCommand.signal).where(OutboxCommand.kind == kind, OutboxCommand.object_id == object_id))
        return list(rows.all())


def _new_meeting(org: int, users: dict[str, int]) -> dict[str, object]:
    day = vn_today() + timedelta(days=3)
    return {
        "organization_id": org,
        "title": "Họp giao ban quý IV",
        "chair_id": users["lan.nguyen"],
        "secretary_id": users["ngoc.vo"],
        "starts_at": f"{day}T08:00:00",  # no offset: Vietnam time, as the page's fields
        "ends_at": f"{day}T10:00:00+07:00",
        "mode": "hybrid",
        "place": "Hội trường tỉnh",
    }


async def _create(api: httpx.AsyncClient, headers: dict[str, str], body: dict[str, object], key: str | None = None) -> httpx.Response:
    return await api.post("/api/v1/meetings", headers={**headers, **({"idempotency-key": key} if key else {})}, json=body)


async def test_a_script_prepares_schedules_and_holds_a_meeting(demo_db_sqlite, client_for) -> None:
    db = demo_db_sqlite
    api = await client_for(db)
    organiser, chair, secretary, member = [await _bearer(db, u) for u in ("mai.tran", "lan.nguyen", "ngoc.vo", "thu.le")]
    org, users = await _ids(db)

    # Created once although the script sent it twice (a timeout, then a retry with the same key).
    before, key = await _count(db), str(uuid.uuid4())
    created = await _create(api, organiser, _new_meeting(org, users), key)
    again = await _create(api, organiser, _new_meeting(org, users), key)
    assert created.status_code == again.status_code == 201, created.text
    meeting = created.json()
    mid = meeting["id"]
    assert created.headers["location"] == f"/api/v1/meetings/{mid}" and again.headers["idempotent-replayed"] == "true"
    assert again.json()["id"] == mid and await _count(db) == before + 1
    assert (
        meeting["status"] == "draft" and meeting["me"]["organiser"] and meeting["starts_at"].startswith(str(vn_today() + timedelta(days=3)))
    )
    assert {p["role"] for p in meeting["participants"]} == {"chair", "secretary"}

    # Preparation: people, agenda, a document (checked by content, as on the page).
    people = await api.post(
        f"/api/v1/meetings/{mid}/participants", headers=organiser, json={"user_ids": [users["thu.le"], users["hue.do"]]}
    )
    assert people.status_code == 200, people.text
    assert {p["user_id"] for p in people.json()["participants"]} >= {users["thu.le"], users["hue.do"]}
    for title in ("Báo cáo kết quả quý III", "Phương hướng quý IV"):
        added = await api.post(f"/api/v1/meetings/{mid}/items", headers=organiser, json={"title": title, "planned_minutes": 20})
        assert added.status_code == 200, added.text
    items = added.json()["agenda"]
    assert [i["title"] for i in items] == ["Báo cáo kết quả quý III", "Phương hướng quý IV"]
    moved = await api.post(f"/api/v1/meetings/{mid}/items/{items[1]['id']}/move", headers=organiser, json={"direction": "up"})
    assert [i["id"] for i in moved.json()["agenda"]] == [items[1]["id"], items[0]["id"]]
    uploaded = await api.post(
        f"/api/v1/meetings/{mid}/documents",
        headers=organiser,
        data={"title": "Dự thảo báo cáo"},
        files={"file": ("bao-cao.pdf", make_tiny_pdf("bao cao"), "application/pdf")},
    )
    assert uploaded.status_code == 200, uploaded.text
    document = uploaded.json()["documents"][0]
    assert document["title"] == "Dự thảo báo cáo" and document["content_type"] == "application/pdf"
    assert (await api.get(document["download_url"], headers=member)).content.startswith(b"%PDF")
    fake = await api.post(
        f"/api/v1/meetings/{mid}/documents", headers=organiser, files={"file": ("gia.pdf", b"MZ not a pdf at all", "application/pdf")}
    )
    assert fake.status_code == 422 and fake.headers["content-type"] == PROBLEM
    assert len((await api.get(f"/api/v1/meetings/{mid}", headers=organiser)).json()["documents"]) == 1

    scheduled = await api.post(f"/api/v1/meetings/{mid}/schedule", headers=organiser)
    assert scheduled.status_code == 200 and scheduled.json()["status"] == "scheduled"
    assert None in await _told(db, "meeting", mid)  # the workflow sends the invitations
    replied = await api.post(f"/api/v1/meetings/{mid}/reply", headers=member, json={"answer": "accept"})
    assert replied.status_code == 200
    assert next(p for p in replied.json()["participants"] if p["user_id"] == users["thu.le"])["reply"] == "accepted"

    # The live room: only the chair opens; the member checks in, asks for the floor, votes.
    refused = await api.post(f"/api/v1/meetings/{mid}/live/open", headers=member)
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    opened = await api.post(f"/api/v1/meetings/{mid}/live/open", headers=chair)
    assert opened.status_code == 200 and opened.json()["status"] == "open" and "opened" in await _told(db, "meeting", mid)
    assert (await api.post(f"/api/v1/meetings/{mid}/live/checkin", headers=member)).status_code == 200
    first = items[1]["id"]
    assert (await api.post(f"/api/v1/meetings/{mid}/live/start-item", headers=chair, json={"item_id": first})).json()[
        "current_item_id"
    ] == first
    asked = await api.post(f"/api/v1/meetings/{mid}/live/request-floor", headers=member, json={"agenda_item_id": first, "note": "Ý kiến"})
    request_id = asked.json()["live"]["speakers"]["queue"][0]["id"]
    granted = await api.post(f"/api/v1/meetings/{mid}/live/grant", headers=chair, json={"request_id": request_id})
    assert granted.json()["live"]["speakers"]["speaking"]["user_id"] == users["thu.le"]
    assert (await api.post(f"/api/v1/meetings/{mid}/live/end-floor", headers=chair, json={"request_id": request_id})).status_code == 200

    poll = (
        await api.post(f"/api/v1/meetings/{mid}/live/open-poll", headers=chair, json={"question": "Thông qua phương hướng quý IV?"})
    ).json()["live"]["polls"][0]
    assert poll["status"] == "open" and [o["key"] for o in poll["options"]] == ["yes", "no", "abstain"]
    yes = poll["options"][0]["id"]
    for voter in (chair, secretary, member):
        voted = await api.post(f"/api/v1/meetings/{mid}/live/vote", headers=voter, json={"poll_id": poll["id"], "option_id": yes})
        assert voted.status_code == 200, voted.text
    assert {"poll_id": poll["id"], "option_id": yes} in voted.json()["live"]["my_votes"]
    closed = await api.post(f"/api/v1/meetings/{mid}/live/close-poll", headers=chair, json={"poll_id": poll["id"]})
    result = closed.json()["live"]["polls"][0]
    assert result["status"] == "closed" and result["result"]["passed"] is True and result["options"][0]["votes"] == 3
    late = await api.post(f"/api/v1/meetings/{mid}/live/vote", headers=member, json={"poll_id": poll["id"], "option_id": yes})
    assert late.status_code in (409, 422) and late.headers["content-type"] == PROBLEM and late.json()["detail_en"]

    ended = await api.post(f"/api/v1/meetings/{mid}/live/close", headers=chair)
    assert ended.status_code == 200 and ended.json()["status"] == "closed" and "closed" in await _told(db, "meeting", mid)
    assert ended.json()["minutes_url"] == f"/api/v1/meetings/{mid}/minutes"


async def test_bad_input_and_outsiders_get_problem_details(demo_db_sqlite, client_for) -> None:
    db = demo_db_sqlite
    api = await client_for(db)
    organiser, member, outsider = [await _bearer(db, u) for u in ("mai.tran", "thu.le", "mocaynam.chuyenvien")]
    org, users = await _ids(db)
    before = await _count(db)

    backwards = {**_new_meeting(org, users), "ends_at": f"{vn_today() + timedelta(days=2)}T10:00:00"}
    refused = await _create(api, organiser, backwards)
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM and refused.json()["detail_vi"]
    unknown_mode = await _create(api, organiser, {**_new_meeting(org, users), "mode": "qua điện thoại"})
    assert unknown_mode.status_code == 422 and "mode" in unknown_mode.json()["detail"]
    not_organiser = await _create(api, member, _new_meeting(org, users))
    assert not_organiser.status_code == 403 and not_organiser.headers["content-type"] == PROBLEM
    assert await _count(db) == before

    mid = (await _create(api, organiser, _new_meeting(org, users))).json()["id"]
    # A draft meeting is not shown to those it does not concern: not found, in both languages.
    hidden = await api.get(f"/api/v1/meetings/{mid}", headers=outsider)
    assert hidden.status_code == 404 and hidden.json()["detail_vi"] != hidden.json()["detail_en"]
    assert (await api.post(f"/api/v1/meetings/{mid}/items", headers=outsider, json={"title": "x"})).status_code == 404
    # Without an agenda it cannot be scheduled; a wrong body is refused before anything is done.
    empty = await api.post(f"/api/v1/meetings/{mid}/schedule", headers=organiser)
    assert empty.status_code == 422 and empty.headers["content-type"] == PROBLEM
    no_item = await api.post(f"/api/v1/meetings/{mid}/live/start-item", headers=organiser, json={"item": 1})
    assert no_item.status_code == 422 and "item_id" in no_item.json()["detail"]
    assert (await api.post(f"/api/v1/meetings/{mid}/cancel", headers=organiser, json={"reason": ""})).status_code == 422
    cancelled = await api.post(f"/api/v1/meetings/{mid}/cancel", headers=organiser, json={"reason": "Trùng lịch tiếp xúc cử tri"})
    assert cancelled.json()["status"] == "cancelled" and cancelled.json()["cancel_reason"] == "Trùng lịch tiếp xúc cử tri"
    assert await _told(db, "meeting", mid) == []  # a draft has no workflow to tell


async def test_the_list_pages_with_a_cursor_each_meeting_once(demo_db_sqlite, client_for) -> None:
    db = demo_db_sqlite
    api = await client_for(db)
    organiser = await _bearer(db, "mai.tran")
    org, users = await _ids(db)
    mine = {(await _create(api, organiser, {**_new_meeting(org, users), "title": f"Họp {i}"})).json()["id"] for i in range(5)}
    seen: list[int] = []
    cursor = None
    while True:
        params = {"status": "draft", "limit": 2, **({"cursor": cursor} if cursor else {})}
        page = (await api.get("/api/v1/meetings", headers=organiser, params=params)).json()
        seen += [m["id"] for m in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert mine <= set(seen) and len(seen) == len(set(seen))
    wrong = await api.get("/api/v1/meetings", headers=organiser, params={"status": "hoãn"})
    assert wrong.status_code == 422 and wrong.headers["content-type"] == PROBLEM
