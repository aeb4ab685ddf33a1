"""In Chromium against a real `lienthong dev`: the request's letter is signed and issued from its
page, then the requester's progress bar moves, without a reload, as two targets submit their
reports; screenshots at desktop and phone widths."""

from __future__ import annotations

import re
import time

import httpx
from playwright.sync_api import expect

from demo.directory import DEMO_PASSWORD, DEMO_PIN
from tests.e2e.conftest import DESKTOP, PHONE, reload_until, screenshot, sign_in
from tests.signing.conftest import make_tiny_pdf


def _submit(base: str, username: str, path: str) -> None:
    """A target submits through its own page, as its officer's browser would."""
    with httpx.Client(base_url=base, follow_redirects=False, headers={"accept": "text/html"}) as http:
        login = http.get("/login")
        token = re.search(r'name="csrf_token" value="([^"]+)"', login.text).group(1)  # type: ignore[union-attr]
        http.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token, "next": "/"})
        page = http.get(path)
        token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)  # type: ignore[union-attr]
        figures = {m: "10" for m in re.findall(r'name="(fig_\d+)"', page.text)}
        response = http.post(
            path + "/submit",
            data={"csrf_token": token, "note": "", **figures},
            files={"file": ("bao-cao.pdf", make_tiny_pdf("Bao cao"), "application/pdf")},
        )
        assert response.status_code == 303, response.text[:500]


def test_progress_bar_moves_as_two_targets_submit(live_dev, browser) -> None:  # type: ignore[no-untyped-def]
    base = live_dev.url
    page = browser.new_page(viewport=DESKTOP)
    sign_in(page, base, "lan.nguyen", DEMO_PASSWORD)
    page.goto(base + "/reports/new")
    page.fill('input[name="title"]', "Báo cáo nhanh kết quả Tháng hành động vì bình đẳng giới năm 2026")
    page.fill('textarea[name="instructions"]', "Đề nghị các Hội LHPN huyện, thành phố báo cáo nhanh.")
    page.fill('input[name="field_name"] >> nth=0', "Số hoạt động truyền thông")
    page.fill('input[name="field_unit"] >> nth=0', "hoạt động")
    screenshot(page, "reports-new-1280")
    page.click('button[type="submit"].primary')
    page.wait_for_url(re.compile(r"/reports/\d+\?ok=created"))
    path = page.url.split("?")[0].replace(base, "")
    # Nothing goes out until the letter is signed (the requester is the leader here) and issued.
    expect(page.locator("[data-awaiting-letter]")).to_contain_text("văn thư ban hành")
    screenshot(page, "reports-awaiting-letter-1280")
    page.on("dialog", lambda dialog: dialog.accept())  # signing and issuing ask "are you sure?"
    page.locator("[data-awaiting-letter] a").click()
    letter_url = page.url.split("?")[0]
    reload_until(page, "input[name=pin]")  # the workflow renders the letter's PDF to sign
    page.get_by_label("Mã PIN ký số").fill(DEMO_PIN)
    page.get_by_role("button", name="Ký số", exact=True).click()
    try:
        page.wait_for_url("**/outgoing/*?ok=signed", timeout=90_000)
    except Exception:
        screenshot(page, "failed-report-letter-sign")
        raise
    # Back to the request before the clerk issues (the letter's page reloads itself on that change).
    page.goto(base + path)
    clerk = browser.new_page(viewport=PHONE)
    clerk.on("dialog", lambda dialog: dialog.accept())
    sign_in(clerk, base, "mai.tran", DEMO_PASSWORD)
    clerk.goto(letter_url)
    clerk.get_by_label("Mã PIN chữ ký số cơ quan").fill(DEMO_PIN)
    clerk.get_by_role("button", name="Cấp số, đóng dấu và phát hành").click()
    clerk.wait_for_url("**/outgoing/*?ok=issued", timeout=90_000)
    notation = clerk.get_by_role("heading", level=1).inner_text()
    assert re.search(r"\d+/HLHPN-VP", notation), notation  # a number of the outgoing register
    clerk.close()
    number = re.search(r"\d+/HLHPN-VP", notation).group(0)  # type: ignore[union-attr]
    reload_until(page, f".facts:has-text('{number}')")  # the request took the letter's number
    page.wait_for_selector("[data-live-label]:not([hidden])")
    assert page.inner_text('[data-num="submitted"]') == "0"
    # Wait until the fan-out delivered the request to the districts.
    targets = {}
    for _ in range(120):
        rows = page.eval_on_selector_all("[data-targets] tr[data-target]", "rows => rows.map(r => r.dataset.target)")
        if len(rows) >= 3:
            targets = rows
            break
        time.sleep(0.5)
        try:
            page.reload()
        except Exception:  # noqa: BLE001 - the page reloaded itself on a live change meanwhile
            page.wait_for_load_state()
    orgs = {"tpbentre": None, "chauthanh": None}
    names = page.eval_on_selector_all(
        "[data-targets] tr[data-target] td:first-child a", "links => links.map(a => [a.textContent, a.getAttribute('href')])"
    )
    for text, href in names:
        if "Bến Tre" in text and "thành phố" in text.lower():
            orgs["tpbentre"] = href
        if "Châu Thành" in text:
            orgs["chauthanh"] = href
    assert all(orgs.values()), names
    page.wait_for_timeout(1500)  # the fan-out's own live events settle
    width_before = float(page.get_attribute('[data-bar] [data-seg="on_time"]', "width"))
    _submit(base, "tpbentre.chuyenvien", orgs["tpbentre"])
    expect(page.locator('[data-progress] [data-num="submitted"]')).to_have_text("1", timeout=20000)
    width_one = float(page.get_attribute('[data-bar] [data-seg="on_time"]', "width"))
    assert width_one > width_before
    screenshot(page, "reports-progress-1-of-3")
    _submit(base, "chauthanh.chuyenvien", orgs["chauthanh"])
    expect(page.locator('[data-progress] [data-num="submitted"]')).to_have_text("2", timeout=20000)
    width_two = float(page.get_attribute('[data-bar] [data-seg="on_time"]', "width"))
    assert width_two > width_one
    assert page.locator("[data-targets] .rp-state-on_time").count() >= 2
    page.wait_for_timeout(600)
    screenshot(page, "reports-progress-2-of-3")
    phone = browser.new_page(viewport=PHONE)
    sign_in(phone, base, "lan.nguyen", DEMO_PASSWORD)
    phone.goto(base + path)
    screenshot(phone, "reports-progress-390")
    phone.goto(base + "/dashboard")
    screenshot(phone, "dashboard-390")
    page.goto(base + "/dashboard")
    screenshot(page, "dashboard-1280")
    page.goto(base + "/reports")
    screenshot(page, "reports-list-1280")
    _ = targets
