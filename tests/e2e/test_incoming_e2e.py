"""Incoming documents in Chromium against a real `lienthong dev`: the clerk registers, the leader
directs, the officer completes, each in their own browser context; pages at 390 px and desktop."""

from __future__ import annotations

from datetime import timedelta

import pytest

from demo.directory import DEMO_PASSWORD
from services.calendar import vn_today
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in
from tests.signing.conftest import make_tiny_pdf

pytestmark = pytest.mark.e2e


def test_clerk_registers_leader_directs_officer_completes(live_dev, browser, tmp_path) -> None:
    pdf = tmp_path / "cong-van-123.pdf"
    pdf.write_bytes(make_tiny_pdf("123/CV-SVHTTDL"))
    clerk_ctx = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    clerk = clerk_ctx.new_page()
    sign_in(clerk, live_dev.url, "mai.tran", DEMO_PASSWORD)
    clerk.goto(live_dev.url + "/incoming/new")
    clerk.get_by_label("Cơ quan ban hành (tên)").fill("Sở Văn hóa, Thể thao và Du lịch")
    clerk.get_by_label("Số, ký hiệu").fill("123/CV-SVHTTDL")
    clerk.get_by_label("Ngày văn bản").fill((vn_today() - timedelta(days=1)).isoformat())
    clerk.locator("textarea[name=subject]").fill("Về việc tổ chức Liên hoan văn nghệ quần chúng chào mừng ngày 20/10")
    clerk.locator("select[name=urgency]").select_option("urgent")
    clerk.locator("input[type=file]").set_input_files(str(pdf))
    screenshot(clerk, "incoming-new-desktop")
    clerk.get_by_role("button", name="Vào sổ và cấp số đến").click()
    clerk.wait_for_url("**/incoming/*?ok=registered")
    doc_url = clerk.url.split("?")[0]
    assert "Chờ bút phê" in clerk.content()
    # The viewer's first page is an image the browser really decoded, not an empty plugin frame.
    clerk.wait_for_function("() => { const i = document.querySelector('.pdf-pages img'); return i && i.complete && i.naturalWidth > 500; }")
    screenshot(clerk, "incoming-registered-desktop")

    leader_ctx = browser.new_context(viewport=PHONE, locale="vi-VN")
    leader = leader_ctx.new_page()
    sign_in(leader, live_dev.url, "lan.nguyen", DEMO_PASSWORD)
    leader.goto(live_dev.url + "/incoming/to-direct")
    assert leader.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(leader, "incoming-to-direct-390")
    leader.goto(doc_url)
    leader.locator("textarea[name=instruction]").fill("Giao Ban Tuyên giáo chủ trì tham mưu tham gia liên hoan.")
    leader.locator("select[name=lead]").select_option(label="Lê Thị Thu — Chuyên viên Ban Tuyên giáo")
    leader.get_by_role("button", name="Gửi bút phê").click()
    leader.wait_for_url("**?ok=directed")
    assert "Chờ xử lý" in leader.content()
    assert leader.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(leader, "incoming-directed-390")

    officer_ctx = browser.new_context(viewport=PHONE, locale="vi-VN")
    officer = officer_ctx.new_page()
    sign_in(officer, live_dev.url, "thu.le", DEMO_PASSWORD)
    officer.goto(live_dev.url + "/incoming/tasks")
    assert "Liên hoan văn nghệ" in officer.content()
    screenshot(officer, "incoming-tasks-390")
    # The lead drafts the reply from the document; the draft is linked to it on save.
    officer.goto(doc_url)
    officer.get_by_role("link", name="Soạn văn bản trả lời").click()
    officer.wait_for_url("**/outgoing/new?reply_to=*")
    assert officer.locator("input[name=subject]").input_value().startswith("Trả lời văn bản số 123/CV-SVHTTDL")
    assert officer.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(officer, "incoming-reply-draft-390")
    officer.locator("textarea[name=body]").fill("Hội LHPN tỉnh đăng ký 2 tiết mục tham gia liên hoan.")
    officer.get_by_role("button", name="Tạo dự thảo").click()
    officer.wait_for_url("**/outgoing/*?ok=created")
    assert "Trả lời văn bản" in officer.content() and "123/CV-SVHTTDL" in officer.content()
    officer.goto(doc_url)
    assert officer.locator("#reply a[href^='/outgoing/']").count() == 1
    screenshot(officer, "incoming-reply-linked-390")
    officer.locator("textarea[name=result]").fill("Đã đăng ký 2 tiết mục tham gia liên hoan.")
    officer.once("dialog", lambda dialog: dialog.accept())
    officer.get_by_role("button", name="Hoàn thành xử lý").click()
    officer.wait_for_url("**?ok=completed")
    assert "Đã hoàn thành" in officer.content()
    screenshot(officer, "incoming-done-390")
    # The trail lists every step; the clerk's page shows the completed document too.
    clerk.goto(doc_url)
    for label in ("Vào sổ, cấp số đến", "Bút phê, giao xử lý", "Hoàn thành xử lý"):
        assert label in clerk.content()
    screenshot(clerk, "incoming-document-desktop")
    clerk.goto(live_dev.url + "/incoming/book")
    screenshot(clerk, "incoming-book-desktop")
    clerk.goto(live_dev.url + "/incoming/stats")
    screenshot(clerk, "incoming-stats-desktop")
    for ctx in (clerk_ctx, leader_ctx, officer_ctx):
        ctx.close()
