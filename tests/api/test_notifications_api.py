"""The caller's notifications over /api/v1: listed newest first page by page, marked read one
by one or all at once, nobody else's reachable (issue 17)."""

from __future__ import annotations

from sqlalchemy import select

from services.directory.models import User
from services.notifications import service as notifications
from tests.api.test_incoming_api import PROBLEM, _bearer


async def _notify(database, username: str, count: int) -> list[int]:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        user = await session.scalar(select(User).where(User.username == username))
        for i in range(count):
            await notifications.notify(
                session, user_ids=[user.id], kind="test", title=f"Thông báo thử {i}", link=f"/incoming/{i}", email=False
            )
    async with database.read() as session:
        return [n.id for n in await notifications.list_for(session, user_id=user.id, limit=count)]


async def test_a_script_reads_pages_of_notifications_and_marks_them_read(demo_db_sqlite, client_for) -> None:
    api = await client_for(demo_db_sqlite)
    me, other = await _bearer(demo_db_sqlite, "thu.le"), await _bearer(demo_db_sqlite, "mai.tran")
    mine = await _notify(demo_db_sqlite, "thu.le", 5)
    theirs = await _notify(demo_db_sqlite, "mai.tran", 1)

    seen, cursor = [], None
    while True:
        page = (await api.get("/api/v1/notifications", headers=me, params={"limit": 2, **({"cursor": cursor} if cursor else {})})).json()
        seen += [n["id"] for n in page["items"]]
        if (cursor := page["next_cursor"]) is None:
            break
    assert seen[:5] == mine and page["unread"] >= 5  # newest first; the demo may hold older ones

    read = await api.post(f"/api/v1/notifications/{mine[0]}/read", headers=me)
    assert read.status_code == 200 and read.json()["read_at"] is not None
    unread = (await api.get("/api/v1/notifications", headers=me, params={"unread": "true", "limit": 100})).json()
    assert mine[0] not in [n["id"] for n in unread["items"]] and mine[1] in [n["id"] for n in unread["items"]]

    assert (await api.post(f"/api/v1/notifications/{theirs[0]}/read", headers=me)).headers["content-type"] == PROBLEM
    assert (await api.post(f"/api/v1/notifications/{theirs[0]}/read", headers=me)).status_code == 404
    everything = await api.post("/api/v1/notifications/read-all", headers=me)
    assert everything.status_code == 200 and everything.json() == {"unread": 0}
    assert (await api.get("/api/v1/notifications", headers=other, params={"unread": "true"})).json()["unread"] == 1
