"""Signer certificates and PIN counters in the browser: a person proposes the certificate of a
first signature (pending), an administrator sees it beside the key counting wrong PINs."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest

from demo.directory import DEMO_PASSWORD, DEMO_PIN
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in
from tests.signing.conftest import make_tiny_pdf

pytestmark = pytest.mark.e2e


def _token_signed_pdf(data_dir, path) -> None:  # type: ignore[no-untyped-def]
    """A PDF signed with a "USB token" of Lan's: a certificate of the dev CA on another key."""
    from signing.keystore import signer_for_person
    from signing.pades import sign_pdf
    from signing.pki import DevPKI, PersonSpec, issue_certificate

    spec = PersonSpec("token.lan", "Nguyễn Thị Lan", "Hội Liên hiệp Phụ nữ tỉnh Bến Tre", "Chủ tịch", "", DEMO_PIN)
    issue_certificate(data_dir=data_dir, spec=spec)
    signer = signer_for_person(data_dir=data_dir, username="token.lan", pin=DEMO_PIN)
    # Playwright's sync API runs an event loop in this thread; sign_pdf needs one of its own.
    with ThreadPoolExecutor(1) as pool:
        signed = pool.submit(
            sign_pdf,
            make_tiny_pdf("Ky thu"),
            signer=signer,
            level="B-B",
            trust=DevPKI.load(data_dir).trust(),
            appearance=None,
            field_name="Sig-token",
        ).result()
    path.write_bytes(signed)


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_certificate_proposal_and_admin_page(live_dev, browser, tmp_path, size) -> None:
    signed = tmp_path / "ky-thu.pdf"
    _token_signed_pdf(live_dev.data_dir, signed)
    plain = tmp_path / "cong-van.pdf"
    plain.write_bytes(make_tiny_pdf("Cong van"))
    context = browser.new_context(viewport=size)
    page = context.new_page()
    page.on("dialog", lambda dialog: dialog.accept())
    # One wrong PIN (a district leader whom the demo seeding never signs for, so nothing resets
    # her count meanwhile): the page says how many attempts are left.
    sign_in(page, live_dev.url, "chauthanh.chutich", DEMO_PASSWORD)
    page.goto(live_dev.url + "/signing")
    form = page.locator("form[action='/signing/sign']")
    form.get_by_label("Tệp PDF").set_input_files(str(plain))
    form.get_by_label("Vị trí").select_option("invisible")
    form.get_by_label("Mã PIN ký số").fill("999999")
    form.get_by_role("button", name="Ký số").click()
    assert "lần thử trước khi khóa ký số bị khóa" in page.get_by_role("alert").inner_text()
    screenshot(page, f"keys-wrong-pin-{size['width']}")
    context.close()

    context = browser.new_context(viewport=size)
    page = context.new_page()
    sign_in(page, live_dev.url, "lan.nguyen", DEMO_PASSWORD)
    page.goto(live_dev.url + "/account")
    card = page.locator("#certificates")
    card.get_by_label("Tệp PDF đã ký bằng thiết bị ký số của tôi").set_input_files(str(signed))
    card.get_by_role("button", name="Đăng ký chứng thư của chữ ký").click()
    page.wait_for_url("**/account?ok=certificate")
    assert "Chờ quản trị xác nhận" in page.locator("#certificates").inner_text()
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(page, f"keys-account-{size['width']}")
    context.close()

    for lang in ("vi", "en"):
        context = browser.new_context(viewport=size)
        page = context.new_page()
        sign_in(page, live_dev.url, "quantri", DEMO_PASSWORD)
        page.goto(f"{live_dev.url}/lang/{lang}?next=/admin/certificates")
        text = page.locator("main").inner_text()
        assert ("Chờ xác nhận" if lang == "vi" else "Awaiting confirmation") in text
        assert ("Đang đếm lần sai" if lang == "vi" else "Counting") in text
        assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
        screenshot(page, f"keys-admin-{lang}-{size['width']}")
        context.close()
