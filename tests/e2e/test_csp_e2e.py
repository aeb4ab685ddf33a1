"""The Content-Security-Policy (no inline script or style) blocks nothing on the main pages in
Chromium; the changed sign-in and account pages at desktop and 390 px (issue 13)."""

from __future__ import annotations

import re
import time

import pytest

from demo.directory import DEMO_PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in

pytestmark = pytest.mark.e2e

# Recorded in the page before any of its scripts run: every CSP violation the browser reports.
RECORD_VIOLATIONS = """
window.__csp = [];
document.addEventListener("securitypolicyviolation", e =>
  window.__csp.push(`${e.violatedDirective} blocked ${e.blockedURI || "inline"} at ${e.sourceFile}:${e.lineNumber}`));
"""


class Watcher:
    """A signed-in Chromium page that remembers CSP complaints from the console and the DOM."""

    def __init__(self, browser, base: str, username: str | None, size=DESKTOP) -> None:  # type: ignore[no-untyped-def]
        self.base = base
        self.context = browser.new_context(viewport=size, locale="vi-VN")
        self.context.add_init_script(RECORD_VIOLATIONS)
        self.page = self.context.new_page()
        self.console: list[str] = []
        self.page.on("console", lambda m: self.console.append(m.text) if "Content Security Policy" in m.text else None)
        self.sockets: list[str] = []
        self.page.on("websocket", lambda ws: self.sockets.append(ws.url))
        if username:
            sign_in(self.page, base, username, DEMO_PASSWORD)

    def visit(self, path: str) -> None:
        self.page.goto(self.base + path)
        self.page.wait_for_load_state("networkidle")
        self.check(path)

    def check(self, where: str) -> None:
        violations = self.page.evaluate("window.__csp") + self.console
        assert violations == [], f"{where}: {violations}"

    def links(self, path: str, pattern: str, timeout: float = 240) -> list[str]:
        """Links on `path` matching `pattern`, waiting for the demo seeding to produce one."""
        deadline = time.monotonic() + timeout
        while True:
            self.visit(path)
            hrefs = self.page.locator("a[href]").evaluate_all("as => as.map(a => a.getAttribute('href'))")
            found = [h for h in hrefs if re.fullmatch(pattern, h)]
            if found or time.monotonic() > deadline:
                assert found, f"no link like {pattern} on {path}"
                return found
            time.sleep(3)

    def close(self) -> None:
        self.context.close()


def test_main_pages_run_under_the_policy_without_a_violation(live_dev, browser) -> None:
    base = live_dev.url
    anonymous = Watcher(browser, base, None)
    anonymous.visit("/login")
    anonymous.close()

    clerk = Watcher(browser, base, "mai.tran")
    for path in ("/", "/incoming", "/outgoing", "/meetings", "/tasks", "/account", "/notifications"):
        clerk.visit(path)
    clerk.visit(clerk.links("/incoming/done", r"/incoming/\d+")[0])
    clerk.visit(clerk.links("/outgoing?tab=issued", r"/outgoing/\d+")[0])
    clerk.close()

    secretary = Watcher(browser, base, "ngoc.vo")
    minutes = secretary.links("/tasks", r"/meetings/\d+/minutes")[0]
    secretary.visit(minutes)
    meeting = re.match(r"/meetings/\d+", minutes).group(0)  # type: ignore[union-attr]
    for path in (meeting, meeting + "/room", meeting + "/console"):
        secretary.visit(path)
    deadline = time.monotonic() + 30
    while not any("/ws" in url for url in secretary.sockets):
        assert time.monotonic() < deadline, "the live channel did not connect"
        secretary.page.wait_for_timeout(200)
    secretary.check("live room after connecting")
    secretary.close()

    admin = Watcher(browser, base, "quantri")
    admin.visit("/admin")
    admin.visit(admin.links("/admin", r"/admin/orgs/\d+")[0])
    admin.close()
    auditor = Watcher(browser, base, "dung.huynh")
    auditor.visit("/audit")
    auditor.close()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_changed_pages_sign_in_delay_and_api_tokens(live_dev, browser, size) -> None:
    base = live_dev.url
    guest = Watcher(browser, base, None, size)
    guest.visit("/login")
    stranger = f"khach.{size['width']}"  # an unknown name: the delay concerns it alone
    for _ in range(8):  # the fourth try comes within the first delay unless the machine is very slow
        guest.page.get_by_label("Tên đăng nhập").fill(stranger)
        guest.page.get_by_label("Mật khẩu").fill("doan-mat-khau")
        guest.page.get_by_role("button", name="Đăng nhập").click()
        if "Đăng nhập sai nhiều lần" in guest.page.get_by_role("alert").inner_text():
            break
    assert "Đăng nhập sai nhiều lần" in guest.page.get_by_role("alert").inner_text()
    assert guest.page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(guest.page, f"login-throttled-{size['width']}")
    guest.check("login throttled")
    guest.close()

    officer = Watcher(browser, base, "thu.le", size)
    officer.visit("/account")
    officer.page.get_by_label("Tên mã truy cập").fill(f"Script báo cáo tháng ({size['width']})")
    officer.page.get_by_label("Thời hạn").select_option("30")
    officer.page.get_by_role("button", name="Tạo mã truy cập").click()
    assert officer.page.locator("code.token").inner_text().startswith("lt_")
    assert "Chỉ đọc" in officer.page.locator("table.list").inner_text()
    assert officer.page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(officer.page, f"account-tokens-{size['width']}")
    officer.page.get_by_label("Mật khẩu hiện tại").fill(DEMO_PASSWORD)
    officer.page.get_by_label("Mật khẩu mới (ít nhất 10 ký tự)").fill("matkhau123456")
    officer.page.get_by_label("Nhập lại mật khẩu mới").fill("matkhau123456")
    officer.page.get_by_role("button", name="Đổi mật khẩu").click()
    officer.page.get_by_text("Mật khẩu quá dễ đoán").first.wait_for()  # the answer's page, not the form mid-submit
    screenshot(officer.page, f"password-refused-{size['width']}")
    officer.check("account")
    officer.close()
