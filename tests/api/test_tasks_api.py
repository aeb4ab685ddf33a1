"""Tasks over /api/v1, driven as an integrator's script would: the owner reports progress and
completion, the assigner reopens, reassigns and cancels; idempotent retries, stale ETags (409),
problem details, cursors (issue 17)."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select

from services.calendar import vn_today
from services.directory.models import User
from services.tasks import service as tasks
from services.tasks.models import OwnerKind
from tests.api.test_incoming_api import PROBLEM, _bearer
from tests.reports.factory import principal


async def _task(database, title: str, owner: str = "thu.le", assigner: str = "lan.nguyen") -> int:  # type: ignore[no-untyped-def]
    leader = await principal(database, assigner)
    async with database.session() as session:
        owner_id = await session.scalar(select(User.id).where(User.username == owner))
        task = await tasks.create(
            session,
            actor=leader.actor,
            organization_id=leader.me.organization_id,
            created_by=leader.user.id,
            tree=leader.tree,
            new=tasks.NewTask(title=title, due_date=vn_today() + timedelta(days=10), owner_kind=OwnerKind.user, owner_id=owner_id),
        )
        return task.id


async def test_an_owner_and_an_assigner_take_a_task_through_its_life(demo_db_sqlite, client_for) -> None:
    api = await client_for(demo_db_sqlite)
    owner, assigner = await _bearer(demo_db_sqlite, "thu.le"), await _bearer(demo_db_sqlite, "lan.nguyen")
    task_id = await _task(demo_db_sqlite, "Tổng hợp ý kiến góp ý dự thảo Nghị quyết")

    mine = (await api.get("/api/v1/tasks", headers=owner)).json()
    assert task_id in [t["id"] for t in mine["items"]]
    read = await api.get(f"/api/v1/tasks/{task_id}", headers=owner)
    task = read.json()
    assert read.status_code == 200 and read.headers["etag"] == task["etag"]
    assert task["mine"] and not task["may_manage"] and task["status"] == "waiting" and task["history"][0]["kind"] == "created"

    # A retried progress report (same Idempotency-Key) is recorded once.
    key = {"idempotency-key": str(uuid.uuid4()), "if-match": task["etag"]}
    report = {"body": "Đã gửi công văn xin ý kiến các huyện.", "percent": 40}
    first = await api.post(f"/api/v1/tasks/{task_id}/progress", headers={**owner, **key}, json=report)
    again = await api.post(f"/api/v1/tasks/{task_id}/progress", headers={**owner, **key}, json=report)
    assert first.status_code == again.status_code == 200, first.text
    assert again.headers["idempotent-replayed"] == "true" and again.json() == first.json()
    progressed = first.json()
    assert progressed["status"] == "in_progress" and progressed["progress"] == 40
    assert first.headers["etag"] == progressed["etag"] != task["etag"]
    current = (await api.get(f"/api/v1/tasks/{task_id}", headers=owner)).json()
    assert current["revision"] == progressed["revision"] and [h["kind"] for h in current["history"]] == ["created", "started"]

    # A change based on the old read is refused, nothing changed.
    stale = await api.post(f"/api/v1/tasks/{task_id}/done", headers={**owner, "if-match": task["etag"]}, json={"result": "Xong."})
    assert stale.status_code == 409 and stale.headers["content-type"] == PROBLEM
    assert (await api.get(f"/api/v1/tasks/{task_id}", headers=owner)).json()["status"] == "in_progress"

    done = await api.post(
        f"/api/v1/tasks/{task_id}/done", headers={**owner, "if-match": progressed["etag"]}, json={"result": "Đã tổng hợp, trình lãnh đạo."}
    )
    assert done.status_code == 200 and done.json()["status"] == "done" and done.json()["result"] == "Đã tổng hợp, trình lãnh đạo."

    # The owner may not reopen (the page's rule); the assigner may.
    refused = await api.post(f"/api/v1/tasks/{task_id}/reopen", headers=owner, json={"reason": "Thiếu số liệu."})
    assert refused.status_code == 403 and refused.headers["content-type"] == PROBLEM
    assigned = (await api.get("/api/v1/tasks", headers=assigner, params={"view": "assigned", "status": "done"})).json()
    assert task_id in [t["id"] for t in assigned["items"]]
    reopened = await api.post(f"/api/v1/tasks/{task_id}/reopen", headers=assigner, json={"reason": "Thiếu số liệu huyện Ba Tri."})
    assert reopened.status_code == 200 and reopened.json()["status"] in ("waiting", "in_progress") and reopened.json()["may_manage"]

    async with demo_db_sqlite.read() as session:
        other = await session.scalar(select(User.id).where(User.username == "mai.tran"))
    due = str(vn_today() + timedelta(days=20))
    moved = await api.post(
        f"/api/v1/tasks/{task_id}/reassign",
        headers={**assigner, "if-match": reopened.json()["etag"]},
        json={"owner_kind": "user", "owner_id": other, "due_date": due, "reason": "Chuyển văn phòng tổng hợp."},
    )
    assert moved.status_code == 200, moved.text
    assert moved.json()["owner_id"] == other and moved.json()["due_date"] == due
    cancelled = await api.post(f"/api/v1/tasks/{task_id}/cancel", headers=assigner, json={"reason": "Không còn cần thiết."})
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "cancelled"


async def test_bad_input_and_strangers_get_problem_details(demo_db_sqlite, client_for) -> None:
    api = await client_for(demo_db_sqlite)
    owner, stranger = await _bearer(demo_db_sqlite, "thu.le"), await _bearer(demo_db_sqlite, "chauthanh.chuyenvien")
    task_id = await _task(demo_db_sqlite, "Rà soát danh sách hội viên")

    too_much = await api.post(f"/api/v1/tasks/{task_id}/progress", headers=owner, json={"body": "x", "percent": 150})
    assert too_much.status_code == 422 and too_much.headers["content-type"] == PROBLEM and "percent" in too_much.json()["detail"]
    no_result = await api.post(f"/api/v1/tasks/{task_id}/done", headers=owner, json={"result": " "})
    assert no_result.status_code == 422 and no_result.headers["content-type"] == PROBLEM and no_result.json()["detail_vi"]
    assert (await api.get(f"/api/v1/tasks/{task_id}", headers=owner)).json()["status"] == "waiting"

    hidden = await api.get(f"/api/v1/tasks/{task_id}", headers=stranger)
    assert hidden.status_code == 404 and hidden.headers["content-type"] == PROBLEM
    poke = await api.post(f"/api/v1/tasks/{task_id}/done", headers=stranger, json={"result": "Xong."})
    assert poke.status_code == 404
    wrong = await api.get("/api/v1/tasks", headers=owner, params={"view": "everyone"})
    assert wrong.status_code == 422 and wrong.headers["content-type"] == PROBLEM


async def test_the_list_pages_with_a_cursor_each_task_once(demo_db_sqlite, client_for) -> None:
    api = await client_for(demo_db_sqlite)
    owner = await _bearer(demo_db_sqlite, "thu.le")
    made = {await _task(demo_db_sqlite, f"Nhiệm vụ thử {i}") for i in range(5)}
    seen: list[int] = []
    cursor = None
    while True:
        page = (await api.get("/api/v1/tasks", headers=owner, params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        assert len(page["items"]) <= 2
        seen += [t["id"] for t in page["items"]]
        cursor = page["next_cursor"]
        if cursor is None:
            break
    assert made <= set(seen) and len(seen) == len(set(seen)) == page["total"]
