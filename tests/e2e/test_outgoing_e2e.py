"""Outgoing documents in Chromium against a real `lienthong dev`: an officer drafts from the
template, a reviewer initials, the leader signs with the PIN, the clerk numbers, seals and
issues, and the clerk of a district finds the document arriving in her incoming queue. The
demo documents are there too, and the pages work at 390 px."""

from __future__ import annotations

import pytest

from demo.directory import DEMO_PASSWORD, DEMO_PIN
from tests.e2e.conftest import DESKTOP, PHONE, reload_until, screenshot, sign_in
from tests.e2e.signview import check_viewer, wrong_pin

pytestmark = pytest.mark.e2e
SUBJECT = "Thông báo kết luận giao ban công tác Hội tháng 11/2026"


def _as(browser, live_dev, username: str, size=DESKTOP):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport=size, locale="vi-VN")
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    sign_in(page, live_dev.url, username, DEMO_PASSWORD)
    return context, page


def _wait(page, pattern: str, name: str, timeout: float = 60_000) -> None:  # type: ignore[no-untyped-def]
    """Wait for the redirect after a form; on failure keep a screenshot of what the user saw."""
    try:
        page.wait_for_url(pattern, timeout=timeout)
    except Exception:
        screenshot(page, f"failed-{name}")
        raise


def test_draft_review_sign_issue_and_the_recipient_clerk_sees_it_arrive(live_dev, browser) -> None:
    context, page = _as(browser, live_dev, "thu.le")
    page.goto(live_dev.url + "/outgoing")
    assert page.get_by_role("heading", level=1).inner_text() == "Văn bản đi"
    page.get_by_role("link", name="Soạn văn bản").click()
    page.get_by_label("Loại văn bản").select_option("TB")
    page.get_by_label("Trích yếu").fill(SUBJECT)
    page.get_by_label("Tất cả cấp huyện").check()
    screenshot(page, "outgoing-new-1280")
    page.get_by_role("button", name="Tạo dự thảo").click()
    _wait(page, "**/outgoing/*?ok=created", "create")
    doc_url = page.url.split("?")[0]
    assert SUBJECT in page.content() and "Dự thảo" in page.content()
    page.get_by_label("Võ Thị Bích Ngọc — Chánh Văn phòng").check()
    page.get_by_role("button", name="Trình", exact=True).click()
    _wait(page, "**/outgoing/*?ok=submitted", "submit")
    context.close()

    context, page = _as(browser, live_dev, "ngoc.vo")
    page.goto(live_dev.url + "/outgoing?tab=review")
    page.get_by_role("link", name=SUBJECT).click()
    page.get_by_role("button", name="Ký nháy (đồng ý)").click()
    _wait(page, "**/outgoing/*?ok=reviewed", "review")
    context.close()

    context, page = _as(browser, live_dev, "lan.nguyen")
    page.goto(live_dev.url + "/outgoing?tab=sign")
    page.get_by_role("link", name=SUBJECT).click()
    reload_until(page, "input[name=pin]")  # the workflow renders the PDF to sign
    doc_id = doc_url.rsplit("/", 1)[1]
    to_sign = page.request.get(f"{doc_url}/pdf?kind=prepared").body()
    check_viewer(page, "#sign", to_sign, f"/outgoing/{doc_id}")
    screenshot(page, "outgoing-sign-1280")
    wrong_pin(page, "#sign", "Ký số")
    check_viewer(page, "#sign", to_sign, f"/outgoing/{doc_id}")
    screenshot(page, "outgoing-sign-wrong-pin-1280")
    page.set_viewport_size(PHONE)
    check_viewer(page, "#sign", to_sign, f"/outgoing/{doc_id}")
    screenshot(page, "outgoing-sign-wrong-pin-390")
    page.get_by_label("Mã PIN ký số").fill(DEMO_PIN)
    page.get_by_role("button", name="Ký số", exact=True).click()
    _wait(page, "**/outgoing/*?ok=signed", "sign", 90_000)
    context.close()

    context, page = _as(browser, live_dev, "mai.tran", PHONE)
    page.goto(doc_url)
    wrong_pin(page, "#issue", "Cấp số, đóng dấu và phát hành", with_pages=False)  # the seal's PIN: the same form again
    screenshot(page, "outgoing-seal-wrong-pin-390")
    page.get_by_label("Mã PIN chữ ký số cơ quan").fill(DEMO_PIN)
    page.get_by_role("button", name="Cấp số, đóng dấu và phát hành").click()
    _wait(page, "**/outgoing/*?ok=issued", "issue", 90_000)
    heading = page.get_by_role("heading", level=1).inner_text()
    assert "/TB-HLHPN" in heading
    reload_until(page, "text=Đã đến")  # delivered to the districts by the workflow
    page.wait_for_timeout(4000)  # the last statuses come in and the page settles
    assert page.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    screenshot(page, "outgoing-issued-390")
    context.close()

    context, page = _as(browser, live_dev, "tpbentre.vanthu")
    page.goto(live_dev.url + "/incoming")
    assert SUBJECT in page.content()
    screenshot(page, "outgoing-arrived-incoming-1280")
    context.close()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_demo_documents_and_register_pages(live_dev, browser, size) -> None:
    context, page = _as(browser, live_dev, "mai.tran", size)
    page.goto(live_dev.url + "/outgoing?tab=issued")
    reload_until(page, "text=Quyết định thành lập Ban Tổ chức Hội thi", timeout=180)
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(page, f"outgoing-issued-list-{size['width']}")
    page.get_by_role("link", name="Sổ văn bản đi").click()
    # A click only starts the navigation: wait for the register's page (counting on the list just
    # left would pass, and its content is empty mid-navigation).
    page.wait_for_url("**/outgoing/register/*")
    assert page.locator("text=/TB-HLHPN|/QĐ-HLHPN/").count() >= 1
    screenshot(page, f"outgoing-register-{size['width']}")
    page.goto(live_dev.url + "/outgoing?tab=issue")
    assert "Thông báo lịch giao ban công tác Hội tháng 12/2026" in page.content()
    context.close()
    context, page = _as(browser, live_dev, "hanh.pham", size)
    page.goto(live_dev.url + "/outgoing?tab=drafts")
    assert "Bị trả lại" in page.content()
    page.get_by_role("link", name="V/v rà soát hộ phụ nữ nghèo, cận nghèo năm 2026").click()
    page.get_by_text("Đề nghị bổ sung biểu mẫu thống kê").first.wait_for()  # the returned draft's page, its reviewer's note
    screenshot(page, f"outgoing-returned-{size['width']}")
    context.close()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_clerk_closes_and_archives_a_past_years_register(live_dev, browser, size) -> None:
    import datetime as dt

    year = dt.date.today().year - 2  # a closed year no other test touches
    context = browser.new_context(viewport=size, locale="vi-VN")
    page = context.new_page()
    sign_in(page, live_dev.url, "mai.tran", DEMO_PASSWORD)
    page.goto(f"{live_dev.url}/outgoing/register/{year}")
    if page.locator("[data-register-archive]").count():  # the first size closes it, the second finds it closed
        page.on("dialog", lambda dialog: dialog.accept())
        page.get_by_role("button", name="Khóa sổ và lưu trữ").click()
        page.wait_for_url("**#register-archive")  # printed and time-stamped in the background
    archived = page.locator("[data-register-archived]")
    archived.wait_for(timeout=180_000)  # appears on the page without a reload
    assert f"Sổ năm {year} đã được khóa và lưu trữ" in archived.inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(page, f"outgoing-register-archived-{size['width']}")
    with page.expect_popup() as popup:
        archived.get_by_role("link", name="Mở sổ đã lưu trữ (PDF)").click()
    pdf = popup.value.request.get(popup.value.url)
    assert pdf.status == 200 and pdf.body().startswith(b"%PDF")
    context.close()
