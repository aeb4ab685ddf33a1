"""The minutes and tasks pages over HTTP: autosave answers 409 with both versions, typed text
is escaped, tasks assigned from a conclusion show up in the owner's "Nhiệm vụ"."""

from __future__ import annotations

import re

from demo.minutes import write
from tests.helpers import sign_in
from tests.minutes.conftest import ITEMS, Plan, hold_meeting


async def test_autosave_conflict_escaping_and_tasks_over_http(demo_db_sqlite, settings, client_for) -> None:
    db = demo_db_sqlite
    held = await hold_meeting(db, settings, Plan(title="Họp giao ban", items=ITEMS[:2], poll=None, units={}, speeches=[("thu.le", 0, "")]))
    minutes_id = await write(db, held, {"items": {}})
    secretary, chair, member = await client_for(db), await client_for(db), await client_for(db)
    for client, name in ((secretary, "ngoc.vo"), (chair, "lan.nguyen"), (member, "thu.le")):
        assert (await sign_in(client, name)).status_code == 303
    page = await secretary.get(f"/meetings/{held.meeting_id}/minutes")
    assert page.status_code == 200 and "Kết thúc và trình ký" in page.text
    token = re.search(r'data-csrf="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
    item = str(held.item_ids[0])
    evil = "<img src=x onerror=alert(1)>"
    ok = await secretary.post(
        f"/minutes/{minutes_id}/save",
        headers={"X-CSRF-Token": token, "accept": "application/json"},
        json={"base_revision": 1, "content": {"items": {item: {"discussion": evil}}}},
    )
    assert ok.status_code == 200 and ok.json()["revision"] == 2
    chair_page = await chair.get(f"/meetings/{held.meeting_id}/minutes")
    chair_token = re.search(r'data-csrf="([^"]+)"', chair_page.text).group(1)  # type: ignore[union-attr]
    stale = await chair.post(
        f"/minutes/{minutes_id}/save",
        headers={"X-CSRF-Token": chair_token, "accept": "application/json"},
        json={"base_revision": 1, "content": {"items": {item: {"discussion": "Ý kiến của chủ trì"}}}},
    )
    assert stale.status_code == 409
    body = stale.json()
    assert body["revision"] == 2 and body["content"]["items"][item]["discussion"] == evil
    assert body["yours"]["items"][item]["discussion"] == "Ý kiến của chủ trì"
    assert "phiên bản 2" in body["message"]
    # A participant reads it, read-only, with the typed markup escaped.
    view = await member.get(f"/meetings/{held.meeting_id}/minutes")
    assert view.status_code == 200 and evil not in view.text and "&lt;img src=x" in view.text
    assert "data-field=" not in view.text
    history = await member.get(f"/minutes/{minutes_id}/revisions")
    assert history.status_code == 200 and "Lần lưu bị từ chối" in history.text
    # A task from the first conclusion, owned by the member.
    task = await secretary.post(
        f"/minutes/{minutes_id}/tasks",
        data={
            "csrf_token": token,
            "item_id": item,
            "title": "Tổng hợp ý kiến các huyện",
            "owner": f"user:{held.users['thu.le']}",
            "due_date": "2099-12-31",
            "description": "Gửi Văn phòng trước hạn.",
        },
    )
    assert task.status_code == 303
    mine = await member.get("/tasks")
    assert mine.status_code == 200 and "Tổng hợp ý kiến các huyện" in mine.text
    task_id = re.search(r'href="/tasks/(\d+)"', mine.text).group(1)  # type: ignore[union-attr]
    detail = await member.get(f"/tasks/{task_id}")
    member_token = re.search(r'name="csrf_token" value="([^"]+)"', detail.text).group(1)  # type: ignore[union-attr]
    done = await member.post(f"/tasks/{task_id}/done", data={"csrf_token": member_token, "result": "Đã gửi bản tổng hợp."})
    assert done.status_code == 303
    minutes_page = await chair.get(f"/meetings/{held.meeting_id}/minutes")
    assert "Tổng hợp ý kiến các huyện" in minutes_page.text and "Đã hoàn thành" in minutes_page.text
    # Someone outside the meeting sees nothing.
    outsider = await client_for(db)
    await sign_in(outsider, "mocaynam.chuyenvien")
    assert (await outsider.get(f"/meetings/{held.meeting_id}/minutes")).status_code == 404
    assert (await outsider.get(f"/tasks/{task_id}")).status_code == 404
