"""Meetings in Chromium: the chair and two participants in separate browser contexts see
check-in, agenda changes, the speaker queue and a vote live; pages at desktop and 390 px."""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta, timezone

import pytest
from playwright.sync_api import expect

from demo.directory import DEMO_PASSWORD
from demo.story import PROVINCE, Story
from tests.e2e.conftest import DESKTOP, PHONE, Sockets, screenshot, sign_in

pytestmark = pytest.mark.e2e
VN = timezone(timedelta(hours=7))


def _prepare_meeting(base: str) -> int:
    """The clerk prepares and schedules a meeting through the public API: what these tests look at
    is the live room, not the preparation pages (tested in tests/meetings)."""
    api = Story(base)
    start = datetime.now(VN) + timedelta(days=1)
    meeting = api.call(
        "mai.tran",
        "POST",
        "/api/v1/meetings",
        json={
            "organization_id": api.org_id(PROVINCE),
            "title": "Họp trực tuyến kiểm thử: thông qua kế hoạch Tháng hành động",
            "chair_id": api.user_id("lan.nguyen"),
            "secretary_id": api.user_id("ngoc.vo"),
            "starts_at": start.isoformat(timespec="minutes"),
            "ends_at": (start + timedelta(hours=2)).isoformat(timespec="minutes"),
            "mode": "online",
        },
    )
    url = f"/api/v1/meetings/{meeting['id']}"
    api.call("mai.tran", "POST", f"{url}/participants", json={"user_ids": [api.user_id("hue.do"), api.user_id("thu.le")]})
    api.call("mai.tran", "POST", f"{url}/items", json={"title": "Báo cáo kết quả 6 tháng", "planned_minutes": 1})
    api.call("mai.tran", "POST", f"{url}/items", json={"title": "Thảo luận kế hoạch", "planned_minutes": 20})
    api.call("mai.tran", "POST", f"{url}/schedule")
    return meeting["id"]


def _page(browser, base: str, username: str, size: dict[str, int]):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=size, locale="vi-VN")
    page = context.new_page()
    sign_in(page, base, username, DEMO_PASSWORD)
    return context, page


def test_chair_and_two_participants_follow_the_meeting_live(live_dev, browser) -> None:
    base = live_dev.url
    mid = _prepare_meeting(base)
    chair_ctx, chair = _page(browser, base, "lan.nguyen", DESKTOP)
    a_ctx, a = _page(browser, base, "hue.do", PHONE)
    b_ctx, b = _page(browser, base, "thu.le", DESKTOP)
    sockets: list[str] = []
    a.on("websocket", lambda ws: sockets.append(ws.url))
    try:
        chair.goto(f"{base}/meetings/{mid}/console")
        a.goto(f"{base}/meetings/{mid}/room")
        b.goto(f"{base}/meetings/{mid}/room")
        chair.get_by_role("button", name="Khai mạc cuộc họp").click()
        a.get_by_text("Đang họp").first.wait_for()
        # Check-in: the chair sees both participants present without reloading.
        a.get_by_role("button", name="Điểm danh: tôi có mặt").click()
        b.get_by_role("button", name="Điểm danh: tôi có mặt").click()
        chair.locator('[data-list="people"] li', has_text="Đỗ Thị Huệ").get_by_text("Có mặt").wait_for()
        chair.locator('[data-list="people"] li', has_text="Lê Thị Thu").get_by_text("Có mặt").wait_for()
        # Agenda: the chair starts an item and adds one; the participants see both at once.
        chair.locator('[data-list="agenda"] li', has_text="Báo cáo kết quả 6 tháng").get_by_role("button", name="Bắt đầu").click()
        a.locator('[data-bind="current"]').get_by_text("1. Báo cáo kết quả 6 tháng").wait_for()
        chair.get_by_label("Nội dung mới").fill("Ý kiến bổ sung của các đại biểu")
        chair.locator('[data-form="add-item"]').get_by_role("button", name="Thêm").click()
        b.locator('[data-list="agenda"]').get_by_text("Ý kiến bổ sung của các đại biểu").wait_for()
        # Speakers: A asks to speak, everyone sees the queue, the chair gives the floor.
        a.get_by_label("Nội dung phát biểu (không bắt buộc)").fill("Kiến nghị về kinh phí")
        a.locator('[data-form="request-floor"]').get_by_role("button", name="Đăng ký phát biểu").click()
        b.locator('[data-list="queue"]').get_by_text("Đỗ Thị Huệ").wait_for()
        chair.locator('[data-list="queue"] li', has_text="Đỗ Thị Huệ").get_by_role("button", name="Mời phát biểu").click()
        b.locator('[data-bind="speaking"]').get_by_text("Đỗ Thị Huệ").wait_for()
        screenshot(a, "meeting-room-390")
        # A vote: the chair opens it, both vote, turnout shows live, closing shows the result.
        chair.locator("summary", has_text="Mở biểu quyết").click()
        chair.get_by_label("Nội dung biểu quyết").fill("Thông qua kế hoạch Tháng hành động?")
        chair.get_by_role("button", name="Bắt đầu biểu quyết").click()
        a.get_by_role("button", name="Tán thành", exact=True).click()
        a.get_by_text("Bạn đã chọn: Tán thành").wait_for()
        b.get_by_role("button", name="Không tán thành").click()
        chair.locator(".turnout", has_text="2/").wait_for()
        screenshot(chair, "meeting-console")
        chair.once("dialog", lambda dialog: dialog.accept())
        chair.get_by_role("button", name="Kết thúc biểu quyết").click()
        a.locator('[data-list="results"]').get_by_text("Thông qua kế hoạch Tháng hành động?").wait_for()
        b.locator('[data-list="results"]').get_by_text("Tán thành: 1 phiếu", exact=True).wait_for()
        assert a.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(a, "meeting-room-result-390")
        # The projector shows the result for the big screen.
        projector = chair_ctx.new_page()
        projector.goto(f"{base}/meetings/{mid}/projector")
        projector.locator(".poll-result").get_by_text("Thông qua kế hoạch Tháng hành động?").wait_for()
        projector.set_viewport_size({"width": 1600, "height": 900})
        time.sleep(0.3)
        screenshot(projector, "meeting-projector")
        # Events arrived in order, each once, on the page's one socket: its user's channel (the
        # navigation's badges) and the meeting's together.
        seqs = a.evaluate("window.meetingLive.events")
        assert seqs == sorted(set(seqs)) and len(seqs) >= 10
        assert len(sockets) == 1 and re.search(rf"/ws\?channels=user-\d+,meeting-{mid}&after=\d+$", sockets[0]), sockets
    finally:
        for ctx in (chair_ctx, a_ctx, b_ctx):
            ctx.close()


def test_the_room_gets_what_happened_before_its_socket_first_connected(live_dev, browser) -> None:
    """The room renders, reads its snapshot, and only then reaches the server's socket (here held
    back until the chair has opened the meeting): its first connect asks for what came after the
    number the page was rendered at, so the opening reaches it — from the server's head it would
    have been missed for good."""
    base = live_dev.url
    mid = _prepare_meeting(base)
    ctx, page = _page(browser, base, "hue.do", PHONE)
    sockets = Sockets(page, away=True)
    try:
        page.goto(f"{base}/meetings/{mid}/room")
        page.locator('[data-list="agenda"] li', has_text="Thảo luận kế hoạch").wait_for()  # the snapshot is in
        assert page.locator('[data-bind="status"]').first.inner_text() != "Đang họp"
        Story(base).call("lan.nguyen", "POST", f"/api/v1/meetings/{mid}/live/open")
        sockets.away = False
        page.get_by_text("Đang họp").first.wait_for()
        assert page.evaluate("window.meetingLive.events.length") >= 1
    finally:
        ctx.close()


def test_the_room_resumes_after_a_drop_without_missing_what_happened_meanwhile(live_dev, browser) -> None:
    """The room's socket drops (the server away: its next attempts refused) while the chair opens
    the meeting; the page says it lost the connection, and once back it gets the opening from the
    last number it had seen, says so, and holds one socket again."""
    base = live_dev.url
    mid = _prepare_meeting(base)
    ctx, page = _page(browser, base, "thu.le", PHONE)
    sockets = Sockets(page, away=False)
    routes = sockets.routes
    try:
        page.goto(f"{base}/meetings/{mid}/room")
        page.locator('[data-list="agenda"] li', has_text="Thảo luận kế hoạch").wait_for()
        assert len(routes) == 1
        sockets.away = True
        routes[0].close()
        page.locator("[data-conn]", has_text="Mất kết nối").first.wait_for()
        Story(base).call("lan.nguyen", "POST", f"/api/v1/meetings/{mid}/live/open")
        sockets.away = False
        page.locator("[data-conn]", has_text="Đã kết nối.").first.wait_for()  # shown for 1.5 s
        page.get_by_text("Đang họp").first.wait_for()
        assert re.search(r"&after=\d+$", routes[-1].url), routes[-1].url
        seqs = page.evaluate("window.meetingLive.events")
        assert seqs == sorted(set(seqs)) and seqs, seqs
    finally:
        ctx.close()


def test_a_participant_removed_from_the_meeting_sees_the_room_stop_following_it(live_dev, browser) -> None:
    """The organiser removes a participant whose room is open: the server closes the room's
    socket (an access change), the page connects again and is refused the meeting — it stops
    following it and says so, with a link to reload, which shows the person the meeting is no
    longer theirs."""
    base = live_dev.url
    mid = _prepare_meeting(base)
    ctx, page = _page(browser, base, "thu.le", PHONE)
    sockets = Sockets(page, away=False)
    try:
        page.goto(f"{base}/meetings/{mid}/room")
        page.locator('[data-list="agenda"] li', has_text="Thảo luận kế hoạch").wait_for()
        api = Story(base)
        meeting = api.call("mai.tran", "GET", f"/api/v1/meetings/{mid}")
        (pid,) = [p["id"] for p in meeting["participants"] if p["user_id"] == api.user_id("thu.le")]
        api.call("mai.tran", "POST", f"/api/v1/meetings/{mid}/participants/{pid}/remove")
        status = page.locator("[data-live-status]")
        expect(status).to_contain_text("Bạn không còn quyền theo dõi trang này", timeout=20_000)
        expect(status.get_by_role("link", name="Tải lại trang")).to_be_visible()
        assert len(sockets.routes) == 2 and f"meeting-{mid}" in sockets.routes[1].url
        screenshot(page, "live-access-removed-390")
        status.get_by_role("link", name="Tải lại trang").click()
        expect(page.locator("main")).to_contain_text(
            "Không tìm thấy cuộc họp này hoặc bạn không có quyền xem"
        )  # the room is no longer theirs
    finally:
        ctx.close()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_meeting_list_calendar_and_preparation_pages(live_dev, browser, size) -> None:
    base = live_dev.url
    context = browser.new_context(viewport=size, locale="vi-VN")
    page = context.new_page()
    sign_in(page, base, "mai.tran", DEMO_PASSWORD)
    page.goto(f"{base}/meetings")
    assert page.get_by_role("heading", level=1).inner_text() == "Lịch họp"
    page.get_by_role("heading", name=re.compile("^Tuần từ")).wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(page, f"meetings-list-{size['width']}")
    page.locator("table.list a").first.click()
    page.get_by_role("heading", name="Chương trình họp").wait_for()
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(page, f"meeting-detail-{size['width']}")
    context.close()
