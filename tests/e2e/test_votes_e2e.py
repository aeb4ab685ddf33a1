"""Votes and attendance in Chromium: a vote without quorum is refused, the chair overrides with
a reason (console, projector and room show it), the secretary records a substitute, and the
signed minutes' attendance and vote lines, read from the PDF with pdftotext."""

from __future__ import annotations

import re
import subprocess

import pytest

from demo.directory import DEMO_PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in
from tests.e2e.test_meetings_e2e import _prepare_meeting

pytestmark = pytest.mark.e2e
REASON = "Lấy ý kiến sơ bộ; biểu quyết chính thức tại kỳ họp sau"


def _page(browser, base: str, username: str, size: dict[str, int]):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=size, locale="vi-VN")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, base, username, DEMO_PASSWORD)
    return context, page


def test_quorum_override_and_substitute(live_dev, browser) -> None:  # type: ignore[no-untyped-def]
    base = live_dev.url
    mid = _prepare_meeting(base)  # chair Lan, secretary Ngọc, members Huệ and Thu: 4 voting members, 3 needed
    chair_ctx, chair = _page(browser, base, "lan.nguyen", DESKTOP)
    sec_ctx, secretary = _page(browser, base, "ngoc.vo", DESKTOP)
    room_ctx, room = _page(browser, base, "thu.le", PHONE)
    try:
        chair.goto(f"{base}/meetings/{mid}/console")
        chair.get_by_role("button", name="Khai mạc cuộc họp").click()
        quorum = chair.locator('[data-bind="quorum"]')
        # The chair and the secretary are present since they opened it: 2 of 4, not quorum.
        quorum.get_by_text(re.compile(r"Chưa đủ túc số — 2/4")).wait_for()
        people = chair.locator('[data-list="people"]')
        people.locator("li", has_text="Võ Thị Bích Ngọc").get_by_text("Có mặt").wait_for()

        # A vote without quorum and without a reason is refused with the counts.
        chair.locator("summary", has_text="Mở biểu quyết").click()
        chair.get_by_label("Nội dung biểu quyết").fill("Thông qua kế hoạch Tháng hành động?")
        chair.get_by_label("Ngưỡng thông qua").select_option("majority_members")
        chair.get_by_role("button", name="Bắt đầu biểu quyết").click()
        error = chair.locator("[data-error]")
        error.get_by_text(re.compile(r"Chưa đủ túc số \(2/4")).wait_for()
        assert chair.locator('[data-bind="poll"]').get_by_text("Không có biểu quyết đang mở.").is_visible()
        screenshot(chair, "votes-console-refused")

        # With a reason the vote opens; console, room and projector show the override.
        chair.get_by_label(re.compile("Chưa đủ túc số: lý do")).fill(REASON)
        chair.get_by_role("button", name="Bắt đầu biểu quyết").click()
        chair.locator('[data-bind="poll"] .override-line', has_text=REASON).wait_for()
        assert "(2/4)" in chair.locator('[data-bind="poll"] .override-line').inner_text()
        assert "Quá nửa tổng số thành viên có quyền biểu quyết" in chair.locator('[data-bind="poll"]').inner_text()
        room.goto(f"{base}/meetings/{mid}/room")
        room.locator('[data-bind="poll"] .override-line', has_text=REASON).wait_for()
        screenshot(room, "votes-room-override-390")
        projector_ctx, projector = _page(browser, base, "lan.nguyen", {"width": 1366, "height": 768})
        try:
            projector.goto(f"{base}/meetings/{mid}/projector")
            projector.locator(".override-line", has_text=REASON).first.wait_for()
            screenshot(projector, "votes-projector-override")
        finally:
            projector_ctx.close()

        # The secretary records a substitute for Huệ: present in her seat, the base stays 4.
        secretary.goto(f"{base}/meetings/{mid}/console")
        form = secretary.locator('form[data-form="substitute"]')
        seat = form.locator('select[name="participant_id"]')
        # The seats come with the live state; until then the panel may still change.
        seat.locator("option", has_text="Đỗ Thị Huệ").wait_for(state="attached")
        secretary.locator("summary", has_text="Người dự thay cho đại biểu được mời").click()
        seat.select_option(seat.locator("option", has_text="Đỗ Thị Huệ").get_attribute("value"))
        deputy = form.locator('select[name="user_id"]')
        deputy.select_option(deputy.locator("option", has_text="Trần Thị Mai").first.get_attribute("value"))
        secretary.get_by_label("Văn bản ủy quyền").fill("Giấy ủy quyền số 12/GUQ-HLHPN ngày 01/12/2026")
        secretary.get_by_role("button", name="Ghi nhận người dự thay").click()
        row = chair.locator('[data-list="people"] li', has_text="Trần Thị Mai")
        row.get_by_text(re.compile("dự thay Đỗ Thị Huệ")).wait_for()
        assert "12/GUQ-HLHPN" in row.inner_text()
        quorum.get_by_text(re.compile("Đủ túc số")).wait_for()
        assert "3/4" in quorum.inner_text()
        screenshot(chair, "votes-console-substitute")
        secretary.set_viewport_size(PHONE)
        screenshot(secretary, "votes-console-substitute-390")

        # Thu checks in and votes; the vote closes with its rule, base and counts.
        room.get_by_role("button", name="Điểm danh: tôi có mặt").click()
        quorum.get_by_text(re.compile("4/4")).wait_for()
        room.get_by_role("button", name="Tán thành", exact=True).click()
        chair.locator('[data-bind="poll"] .turnout', has_text="1/4").wait_for()
        chair.get_by_role("button", name="Kết thúc biểu quyết").click()
        result = chair.locator('[data-list="results"] li').first
        result.get_by_text(re.compile("Không thông qua")).wait_for()
        assert re.search(r"Tổng số tính 4 · 3 phiếu tán thành cần để thông qua", result.inner_text())
        screenshot(chair, "votes-console-result")
    finally:
        chair_ctx.close()
        sec_ctx.close()
        room_ctx.close()


def _signed_minutes_pdf(page, base: str) -> bytes:  # type: ignore[no-untyped-def]
    """The demo's minutes the secretary signed, from the closed meetings (not the chair's tasks:
    the minutes test may have signed them as the chair already)."""
    page.goto(base + "/meetings?status=closed")
    page.goto(base + page.get_by_role("link", name="Họp Ban Thường vụ tháng 6/2026").first.get_attribute("href") + "/minutes")
    response = page.request.get(base + page.get_by_role("link", name="Tải tệp PDF đã ký").first.get_attribute("href"))
    assert response.ok
    return response.body()


def test_signed_minutes_record_attendance_and_votes(live_dev, browser, tmp_path) -> None:  # type: ignore[no-untyped-def]
    base = live_dev.url
    live_dev.wait_for_demo()
    ctx, page = _page(browser, base, "lan.nguyen", DESKTOP)
    try:
        pdf = _signed_minutes_pdf(page, base)
        screenshot(page, "votes-minutes-page")
    finally:
        ctx.close()
    path = tmp_path / "bien-ban.pdf"
    path.write_bytes(pdf)
    text = subprocess.run(["pdftotext", "-layout", str(path), "-"], check=True, capture_output=True, text=True).stdout
    flat = re.sub(r"\s+", " ", text)
    # Attendance: the chair and the secretary who sign it were present; the absentee with her reason.
    present = flat.split("Đại biểu có mặt:", 1)[1].split("Đại biểu vắng mặt:", 1)[0]
    assert "Nguyễn Thị Lan" in present and "Võ Thị Bích Ngọc" in present
    absent = flat.split("Đại biểu vắng mặt:", 1)[1][:200]
    assert "Phạm" in absent and "Đi công tác" in absent and "không rõ lý do" not in flat
    assert "Thành viên có quyền biểu quyết được triệu tập: 5; có mặt (kể cả người dự thay): 4; vắng mặt: 1" in flat
    # The vote with its rule, base and counts.
    assert "quá nửa số thành viên có quyền biểu quyết có mặt" in flat
    assert "Tổng số tính: 4 thành viên có mặt, cần ít nhất 3 phiếu tán thành" in flat
    assert "Tán thành: 3; Không tán thành: 0; Không biểu quyết: 1. Kết quả: THÔNG QUA." in flat
    # One closing section.
    assert flat.count("kết thúc lúc") == 1 and "Biên bản được lập" not in flat


def test_a_site_clerk_marks_the_sites_delegates(live_dev, browser) -> None:  # type: ignore[no-untyped-def]
    """The demo's open meeting invited Châu Thành, which named its chair: the district's clerk
    marks her present from the meeting page, at desktop and phone width."""
    base = live_dev.url
    live_dev.wait_for_demo()
    ctx, page = _page(browser, base, "chauthanh.vanthu", DESKTOP)
    try:
        page.goto(base + "/meetings")
        link = page.get_by_role("link", name="Họp Ban Thường vụ Hội LHPN tỉnh tháng 11/2026")
        page.goto(base + link.first.get_attribute("href"))
        row = page.locator(".site-attendance li").first
        button = row.get_by_role("button")
        if "Ghi vắng" in button.inner_text():  # already present (a rerun): mark absent first
            button.click()
            page.locator(".site-attendance li").first.get_by_role("button", name="Điểm danh có mặt").wait_for()
        page.locator(".site-attendance li").first.get_by_role("button", name="Điểm danh có mặt").click()
        page.locator(".site-attendance li").first.get_by_text("Có mặt").wait_for()
        screenshot(page, "votes-site-clerk")
        page.set_viewport_size(PHONE)
        assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
        screenshot(page, "votes-site-clerk-390")
    finally:
        ctx.close()
