"""`lienthong dev` comes up, the demo leader signs in through Chromium on desktop and phone."""

from __future__ import annotations

import re
import signal
import socket
import time
from datetime import date

import httpx
import pytest
from playwright.sync_api import expect

from demo.directory import DEMO_PASSWORD
from demo.story import PROVINCE, Story
from tests.e2e.conftest import DESKTOP, PHONE, Sockets, screenshot, sign_in, start_dev, stop_dev
from tests.helpers import CSRF_RE
from tests.signing.conftest import make_tiny_pdf

pytestmark = pytest.mark.e2e


def test_dev_answers_healthz_with_database_and_temporal(live_dev) -> None:
    body = httpx.get(live_dev.url + "/healthz").json()
    assert body == {"status": "ok", "checks": {"database": True, "temporal": True}}
    assert httpx.get(live_dev.url + "/openapi.json").json()["paths"]["/api/v1/incoming"]
    assert httpx.get(live_dev.url + "/docs").status_code == 404  # its page would load scripts from a CDN


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_leader_signs_in_and_sees_home(live_dev, browser, size) -> None:
    context = browser.new_context(viewport=size, locale="vi-VN")
    page = context.new_page()
    page.goto(live_dev.url + "/")
    assert "/login" in page.url
    screenshot(page, f"login-{size['width']}")
    page.get_by_label("Tên đăng nhập").fill("lan.nguyen")
    page.get_by_label("Mật khẩu").fill("sai-mat-khau")
    page.get_by_role("button", name="Đăng nhập").click()
    assert page.get_by_role("alert").inner_text().startswith("Tên đăng nhập hoặc mật khẩu không đúng")
    page.get_by_label("Mật khẩu").fill(DEMO_PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(live_dev.url + "/")
    assert page.get_by_role("heading", level=1).inner_text() == "Xin chào, Nguyễn Thị Lan"
    assert "Hội Liên hiệp Phụ nữ tỉnh Bến Tre" in page.content()
    # No horizontal scrolling at phone width.
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(page, f"home-leader-{size['width']}")
    page.get_by_role("link", name="EN").click()
    assert page.get_by_role("heading", level=1).inner_text() == "Hello, Nguyễn Thị Lan"
    context.close()


def test_admin_and_auditor_pages_render(live_dev, browser) -> None:
    for username, path, heading in (("quantri", "/admin", "Quản trị"), ("dung.huynh", "/audit", "Nhật ký")):
        for size in (DESKTOP, PHONE):
            context = browser.new_context(viewport=size)
            page = context.new_page()
            sign_in(page, live_dev.url, username, DEMO_PASSWORD)
            page.goto(live_dev.url + path)
            assert page.get_by_role("heading", level=1).inner_text() == heading
            screenshot(page, f"{path.strip('/')}-{size['width']}")
            assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
            context.close()


def test_dev_encrypts_payloads_and_its_temporal_ui_decodes_through_the_app(live_dev, browser) -> None:
    """The key ring is made once, private and never printed; the embedded Temporal UI is told
    where the codec is, and from the UI's origin Chromium decodes with the admin's cookie only."""
    import json

    from google.protobuf import json_format
    from temporalio.api.common.v1 import Payloads

    from services.codec import EncryptionCodec, parse_key_ring

    keys = live_dev.data_dir / "payload_keys"
    assert keys.stat().st_mode & 0o777 == 0o600
    ring = keys.read_text().strip()
    assert ring.split(":", 1)[1] not in live_dev.log.read_text()
    ui = f"http://127.0.0.1:{live_dev.ports['ui']}"
    codec_url = live_dev.url + "/temporal-codec"
    assert httpx.get(ui + "/api/v1/settings").json()["Codec"]["Endpoint"] == codec_url

    codec = EncryptionCodec(parse_key_ring(ring))
    clear = json_format.ParseDict({"payloads": [{"metadata": {"encoding": "anNvbi9wbGFpbg=="}, "data": ""}]}, Payloads())
    clear.payloads[0].data = json.dumps("Nguyễn Thị Lan", ensure_ascii=False).encode()
    body = json_format.MessageToJson(Payloads(payloads=[codec.encrypt(p) for p in clear.payloads]))
    call = """async ([url, body, credentials]) => {
        const r = await fetch(url, {method: 'POST', credentials, body,
                                    headers: {'Content-Type': 'application/json', 'X-Namespace': 'default'}});
        return [r.status, await r.text()];
    }"""
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    page.goto(ui)  # the Temporal UI's origin, as its codec calls come from
    status, _ = page.evaluate(call, [codec_url + "/decode", body, "include"])
    assert status == 401  # not signed in to the app: refused, and the UI can read why
    sign_in(page, live_dev.url, "quantri", DEMO_PASSWORD)
    page.goto(ui)
    status, text = page.evaluate(call, [codec_url + "/decode", body, "include"])
    assert status == 200, text
    assert json_format.Parse(text, Payloads()).payloads[0] == clear.payloads[0]
    status, _ = page.evaluate(call, [codec_url + "/decode", body, "omit"])
    assert status == 401  # without "include cross-origin credentials" the UI gets nothing
    context.close()


def test_auditor_verifies_the_live_chain(live_dev, browser) -> None:
    context = browser.new_context(viewport=DESKTOP)
    page = context.new_page()
    sign_in(page, live_dev.url, "dung.huynh", DEMO_PASSWORD)
    page.goto(live_dev.url + "/audit/verify")
    assert "Nguyên vẹn" in page.get_by_role("status").inner_text()
    screenshot(page, "audit-verify")
    context.close()


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_admin_sees_the_statutory_holidays_of_a_year_nobody_typed_in(live_dev, browser, size) -> None:
    context = browser.new_context(viewport=size, locale="vi-VN")
    page = context.new_page()
    sign_in(page, live_dev.url, "quantri", DEMO_PASSWORD)
    page.goto(live_dev.url + "/admin/holidays?year=2028")
    assert "Tết Nguyên Đán" in page.inner_text("main") and "theo luật" in page.inner_text("main")
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(page, f"admin-holidays-2028-{size['width']}")
    context.close()


def test_ctrl_c_stops_everything_and_a_restart_keeps_the_data(tmp_path) -> None:
    first = start_dev(tmp_path / "var", tmp_path / "dev.log")
    assert stop_dev(first) == 0
    with pytest.raises(httpx.HTTPError):
        httpx.get(first.url + "/healthz", timeout=2)
    # The Temporal dev server it started is gone too: nothing accepts a TCP connection on its port
    # (an HTTP request would fail against a live gRPC server as well, so it could not tell).
    with pytest.raises(OSError):
        socket.create_connection(("127.0.0.1", first.ports["temporal"]), timeout=2).close()
    log_before = first.log.read_text()
    again = start_dev(first.data_dir, first.log, first.ports)
    try:
        # The demo leader still signs in and the earlier sign-ins are still in the trail.
        with httpx.Client(base_url=again.url) as client:
            page = client.get("/login")
            token = page.text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
            response = client.post("/login", data={"username": "lan.nguyen", "password": DEMO_PASSWORD, "csrf_token": token})
            assert response.status_code == 303
        assert log_before.count("Đã tạo dữ liệu mẫu") == again.log.read_text().count("Đã tạo dữ liệu mẫu")
    finally:
        stop_dev(again)


def test_sigkill_of_dev_leaves_no_temporal_server_behind(tmp_path) -> None:
    """Killed with SIGKILL (no chance to clean up), `lienthong dev` still takes the Temporal dev
    server it started with it: a restart finds its ports free and its data intact."""
    first = start_dev(tmp_path / "var", tmp_path / "dev.log")
    first.process.send_signal(signal.SIGKILL)
    first.process.wait()
    deadline = time.monotonic() + 30
    while True:
        try:
            socket.create_connection(("127.0.0.1", first.ports["temporal"]), timeout=1).close()
        except OSError:
            break  # nobody listens there any more
        assert time.monotonic() < deadline, "the Temporal dev server outlived `lienthong dev`"
        time.sleep(0.2)
    again = start_dev(first.data_dir, first.log, first.ports)
    assert stop_dev(again) == 0


@pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["desktop", "phone"])
def test_admin_enters_the_electronic_identifier_of_an_organisation(live_dev, browser, size) -> None:
    context = browser.new_context(viewport=size, locale="vi-VN")
    page = context.new_page()
    sign_in(page, live_dev.url, "quantri", DEMO_PASSWORD)
    page.goto(live_dev.url + "/admin")
    page.get_by_role("link", name="Hội LHPN xã An Khánh").first.click()
    field = page.get_by_label("Mã định danh điện tử (Quyết định 20/2020/QĐ-TTg)")
    assert field.input_value() in ("002.02.31.H08", "008.02.31.H08", "009.02.31.H08")  # demo value, or an earlier run's
    new = "008.02.31.H08" if size is DESKTOP else "009.02.31.H08"
    field.fill(f" {new.lower()} ")
    page.get_by_role("button", name="Lưu").first.click()
    page.wait_for_url("**ok=saved**")
    assert page.locator("[data-national-id]").inner_text() == new
    assert page.evaluate("document.documentElement.scrollWidth") <= size["width"]
    screenshot(page, f"admin-org-national-id-{size['width']}")
    context.close()


def _post_form(base: str, username: str, page: str, action: str, data: dict[str, str]) -> None:
    """What a browser's form does: signed in, the CSRF token of the page, a 303 back."""
    with httpx.Client(base_url=base, follow_redirects=False, headers={"accept": "text/html"}) as http:
        token = CSRF_RE.search(http.get("/login").text).group(1)  # type: ignore[union-attr]
        http.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token, "next": "/"})
        token = CSRF_RE.search(http.get(page).text).group(1)  # type: ignore[union-attr]
        answer = http.post(action, data={"csrf_token": token, **data})
        assert answer.status_code == 303, answer.text[:500]


def test_a_page_gets_what_changed_between_its_rendering_and_its_socket(live_dev, browser) -> None:
    """Any signed-in page: its socket's first connect asks for what came after the event the page
    was rendered at (<body data-seq>). The clerk's page of a document is open, its socket held back,
    when the leader returns the document: once the socket is through, the page says the document
    has just changed. From the server's head, that change was missed for good."""
    base = live_dev.url
    api = Story(base)
    doc = api.call(
        "mai.tran",
        "POST",
        "/api/v1/incoming",
        data={
            "organization_id": api.org_id(PROVINCE),
            "issuer_name": "Ủy ban nhân dân tỉnh Bến Tre",
            "number_notation": f"{int(time.time()) % 100000}/UBND-VX",
            "document_date": str(date.today()),
            "doc_type": "CV",
            "subject": "Về việc tổ chức Tháng hành động vì bình đẳng giới",
        },
        files={"files": ("cong-van.pdf", make_tiny_pdf("Cong van"), "application/pdf")},
    )
    path = f"/incoming/{doc['id']}"
    # Its workflow has taken the registration's step: it tells the leader the document waits for her.
    api.wait("the leader told", lambda: any(n["link"] == path for n in api.call("lan.nguyen", "GET", "/api/v1/notifications")["items"]))
    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    page = context.new_page()
    sign_in(page, base, "mai.tran", DEMO_PASSWORD)
    sockets = Sockets(page, away=True)
    try:
        page.goto(base + path)
        note = page.locator("[data-live-doc]")
        rendered = page.get_attribute("body", "data-seq")
        assert note.is_hidden() and rendered
        _post_form(base, "lan.nguyen", path, f"{path}/return-clerk", {"reason": "Đề nghị bổ sung trích yếu."})
        sockets.away = False
        expect(note).to_be_visible(timeout=20_000)
        expect(note).to_contain_text("Văn bản vừa được cập nhật")
        assert sockets.routes[-1].url.endswith(f"&after={rendered}"), [ws.url for ws in sockets.routes]
        screenshot(page, "incoming-changed-after-held-socket-390")
    finally:
        context.close()


def test_a_page_whose_session_ended_stops_following_and_says_so(live_dev, browser) -> None:
    """A tab left open when its session is signed out in another tab: the sign-out closes its
    socket (an access change, code 4001), the page connects again and is refused — which a page
    cannot tell from a network error. It asks whether its session stands, and instead of knocking
    every ten seconds for ever it says the session has ended and offers to sign in again."""
    base = live_dev.url
    context = browser.new_context(viewport=PHONE, locale="vi-VN")
    page = context.new_page()
    sign_in(page, base, "thu.le", DEMO_PASSWORD)
    sockets = Sockets(page, away=False)
    try:
        page.goto(base + "/incoming")
        page.wait_for_function("() => document.querySelector('[data-live-status]') !== null")
        Story(base).wait("the page's socket", lambda: sockets.routes)
        other = context.new_page()
        other.goto(base + "/")
        other.locator("form[action='/logout'] button").first.click()
        other.wait_for_url("**/login**")
        status = page.locator("[data-live-status]")
        expect(status).to_contain_text("Phiên đăng nhập đã kết thúc", timeout=20_000)
        expect(status.get_by_role("link", name="Đăng nhập lại")).to_have_attribute("href", re.compile(r"^/login\?next=%2Fincoming"))
        assert len(sockets.routes) == 2  # closed by the sign-out, refused once: no more knocking
        screenshot(page, "live-session-ended-390")
    finally:
        context.close()
