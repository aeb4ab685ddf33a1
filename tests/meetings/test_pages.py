"""The meeting pages, driven like a browser: prepare, answer as an invited unit, run it live."""

from __future__ import annotations

import re
from datetime import timedelta

from sqlalchemy import select

from meetings.models import Meeting, MeetingStatus
from services.db import utcnow
from services.directory.models import Organization, User
from tests.helpers import csrf_of, sign_in
from web.i18n import to_vn


async def _ids(database):  # type: ignore[no-untyped-def]
    async with database.session() as session:
        users = {u.username: u.id for u in (await session.scalars(select(User))).all()}
        orgs = {o.code: o.id for o in (await session.scalars(select(Organization))).all()}
    return users, orgs


async def _client(client_for, database, username):  # type: ignore[no-untyped-def]
    client = await client_for(database)
    await sign_in(client, username)
    return client


async def _live(client, meeting_id: int, action: str, csrf: str, **body):  # type: ignore[no-untyped-def]
    return await client.post(
        f"/meetings/{meeting_id}/live/{action}", json=body, headers={"x-csrf-token": csrf, "accept": "application/json"}
    )


async def test_prepare_answer_and_run_a_meeting_through_the_pages(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    users, orgs = await _ids(db)
    clerk = await _client(client_for, db, "mai.tran")
    csrf = await csrf_of(clerk, "/meetings/new")
    start = to_vn(utcnow() + timedelta(days=2)).strftime("%Y-%m-%dT%H:%M")
    end = to_vn(utcnow() + timedelta(days=2, hours=3)).strftime("%Y-%m-%dT%H:%M")
    created = await clerk.post(
        "/meetings",
        data={
            "csrf_token": csrf,
            "organization_id": str(orgs["hlhpn-bentre"]),
            "title": "Hội nghị sơ kết công tác Hội 6 tháng đầu năm 2026",
            "chair_id": str(users["lan.nguyen"]),
            "secretary_id": str(users["ngoc.vo"]),
            "starts_at": start,
            "ends_at": end,
            "mode": "hybrid",
            "place": "Hội trường Hội LHPN tỉnh",
        },
    )
    assert created.status_code == 303, created.text
    mid = int(re.search(r"/meetings/(\d+)", created.headers["location"]).group(1))
    page = f"/meetings/{mid}"
    for path, data in (
        (f"{page}/items", {"title": "Báo cáo sơ kết 6 tháng đầu năm", "planned_minutes": "20"}),
        (f"{page}/items", {"title": "Thảo luận, biểu quyết chương trình phối hợp", "planned_minutes": "30"}),
        (f"{page}/participants", {"user_ids": [str(users["hue.do"]), str(users["thu.le"])]}),
        (f"{page}/units", {"org_ids": [str(orgs["hlhpn-chauthanh"])]}),
    ):
        response = await clerk.post(path, data={**data, "csrf_token": csrf})
        assert response.status_code == 303, (path, response.text)
    pdf = b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj 2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"
    upload = await clerk.post(
        f"{page}/documents",
        data={"csrf_token": csrf, "title": "Dự thảo báo cáo sơ kết", "viewer_ids": [str(users["hue.do"])]},
        files={"file": ("bao-cao.pdf", pdf, "application/pdf")},
    )
    assert upload.status_code in (303, 422), upload.text
    scheduled = await clerk.post(f"{page}/schedule", data={"csrf_token": csrf})
    assert scheduled.status_code == 303
    detail = await clerk.get(page)
    assert "Hội nghị sơ kết" in detail.text and "Đã lên lịch" in detail.text
    listing = await clerk.get("/meetings")
    assert "Lịch tuần" in listing.text and "Hội nghị sơ kết" in listing.text

    # The invited district's clerk names its attendees.
    district = await _client(client_for, db, "chauthanh.vanthu")
    d_page = await district.get(page)
    assert "Người dự họp của Hội LHPN huyện Châu Thành" in d_page.text
    unit_id = re.search(r"/units/(\d+)/attendees", d_page.text).group(1)
    d_csrf = await csrf_of(district, page)
    answered = await district.post(
        f"{page}/units/{unit_id}/attendees", data={"csrf_token": d_csrf, "user_ids": [str(users["chauthanh.chutich"])]}
    )
    assert answered.status_code == 303
    # An outsider sees nothing.
    outsider = await _client(client_for, db, "mocaynam.chuyenvien")
    assert (await outsider.get(page)).status_code == 404
    assert (await outsider.get(f"{page}/state.json")).status_code == 404

    chair = await _client(client_for, db, "lan.nguyen")
    console = await chair.get(f"{page}/console")
    assert console.status_code == 200 and "Bảng điều khiển chủ trì" in console.text
    # The secretary shares the console but is not the chair: the page and its link say so.
    secretary = await _client(client_for, db, "ngoc.vo")
    s_console = await secretary.get(f"{page}/console")
    assert s_console.status_code == 200
    assert '<h1 class="grow">Thư ký cuộc họp</h1>' in s_console.text and "Bảng điều khiển chủ trì" not in s_console.text
    s_detail = (await secretary.get(page)).text
    assert f'href="{page}/console">Thư ký cuộc họp</a>' in s_detail and "Bảng điều khiển chủ trì" not in s_detail
    assert f'href="{page}/console">Bảng điều khiển chủ trì</a>' in (await chair.get(page)).text
    c_csrf = await csrf_of(chair, f"{page}/console")
    member = await _client(client_for, db, "hue.do")
    room = await member.get(f"{page}/room")
    assert room.status_code == 200
    m_csrf = await csrf_of(member, f"{page}/room")
    assert (await _live(member, mid, "open", m_csrf)).status_code == 403  # only the chair
    assert (await _live(chair, mid, "open", c_csrf)).json() == {"ok": True}
    assert (await _live(member, mid, "checkin", m_csrf)).status_code == 200
    assert (await _live(chair, mid, "checkin", c_csrf)).status_code == 200
    state = (await chair.get(f"{page}/state.json")).json()
    first_item = state["agenda"]["items"][0]["id"]
    assert (await _live(chair, mid, "start-item", c_csrf, item_id=first_item)).status_code == 200
    assert (await _live(member, mid, "request-floor", m_csrf, note="Về chỉ tiêu")).status_code == 200
    state = (await member.get(f"{page}/state.json")).json()
    assert state["agenda"]["current_item_id"] == first_item
    assert [q["note"] for q in state["speakers"]["queue"]] == ["Về chỉ tiêu"]
    assert (
        await _live(chair, mid, "open-poll", c_csrf, question="Thông qua chương trình phối hợp?", visibility="named")
    ).status_code == 200
    state = (await member.get(f"{page}/state.json")).json()
    poll = state["polls"][0]
    yes = next(o["id"] for o in poll["options"] if o["key"] == "yes")
    # Each live action is a typed route: a malformed ballot is refused by its model, naming the field.
    bad = await _live(member, mid, "vote", m_csrf, poll_id=poll["id"], option_id="có")
    assert bad.status_code == 422 and "option_id" in bad.json()["message"]
    bad_poll = await _live(chair, mid, "open-poll", c_csrf, question="?", threshold="most")
    assert bad_poll.status_code == 422 and "threshold" in bad_poll.json()["message"]
    schema = (await member.get("/openapi.json")).json()
    ballot = schema["paths"]["/meetings/{meeting_id}/live/vote"]["post"]["requestBody"]["content"]["application/json"]["schema"]
    assert ballot["$ref"].endswith("/Ballot") and set(schema["components"]["schemas"]["Ballot"]["required"]) == {"poll_id", "option_id"}
    assert (await _live(member, mid, "vote", m_csrf, poll_id=poll["id"], option_id=yes)).status_code == 200
    again = await _live(member, mid, "vote", m_csrf, poll_id=poll["id"], option_id=yes)
    assert again.status_code == 409 and "đã biểu quyết" in again.json()["message"]
    assert (await _live(chair, mid, "vote", c_csrf, poll_id=poll["id"], option_id=yes)).status_code == 200
    assert (await _live(chair, mid, "close-poll", c_csrf, poll_id=poll["id"])).status_code == 200
    csv = await member.get(f"{page}/polls/{poll['id']}.csv")
    assert csv.status_code == 200 and "Thông qua" in csv.content.decode("utf-8-sig")
    async with db.session() as session:
        token = (await session.get(Meeting, mid)).projector_token
    anonymous = await client_for(db)
    screen = await anonymous.get(f"/meetings/screen/{token}")
    assert screen.status_code == 200
    public = (await anonymous.get(f"/meetings/screen/{token}/state.json")).json()
    assert "participants" not in public and "me" not in public and public["polls"][0]["result"]["passed"] is True
    assert (await anonymous.get("/meetings/screen/not-a-real-token-at-all-x/state.json")).status_code == 404
    assert (await _live(chair, mid, "close", c_csrf)).status_code == 200
    async with db.session() as session:
        assert (await session.get(Meeting, mid)).status == MeetingStatus.closed
    home = await member.get("/")
    assert home.status_code == 200
