"""A leader signs a PDF in the browser with her PIN and checks it; a wrong PIN is explained."""

from __future__ import annotations

import pytest

from demo.directory import DEMO_PASSWORD, DEMO_PIN
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in
from tests.signing.conftest import make_tiny_pdf

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_leader_signs_and_sees_a_valid_report(live_dev, browser, tmp_path, size) -> None:
    pdf = tmp_path / "ke-hoach.pdf"
    pdf.write_bytes(make_tiny_pdf("Ke hoach cong tac Hoi 2026"))
    context = browser.new_context(viewport=size)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())  # "Ký số tệp này?" confirmation
    sign_in(page, live_dev.url, "lan.nguyen", DEMO_PASSWORD)
    page.goto(live_dev.url + "/signing")
    screenshot(page, f"signing-{size['width']}")
    form = page.locator("form[action='/signing/sign']")
    form.get_by_label("Tệp PDF").set_input_files(str(pdf))
    form.get_by_label("Vị trí").select_option("invisible")
    form.get_by_label("Mã PIN ký số").fill("999999")
    form.get_by_role("button", name="Ký số").click()
    assert "Mã PIN ký số không đúng" in page.get_by_role("alert").inner_text()
    page.go_back()
    form = page.locator("form[action='/signing/sign']")
    form.get_by_label("Tệp PDF").set_input_files(str(pdf))
    form.get_by_label("Vị trí").select_option("invisible")
    form.get_by_label("Mã PIN ký số").fill(DEMO_PIN)
    form.get_by_role("button", name="Ký số").click()
    status = page.locator(".report [role=status]").inner_text()
    assert "hợp lệ" in status
    assert "Nguyễn Thị Lan" in page.locator(".report").inner_text()
    with page.expect_download() as download:
        page.get_by_role("link", name="Tải tệp PDF đã ký").click()
    assert download.value.suggested_filename.endswith("-da-ky.pdf")
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(page, f"signing-result-{size['width']}")
    context.close()
