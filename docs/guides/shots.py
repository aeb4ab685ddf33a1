"""Screenshots for the user guides (docs/guides/*.md), taken from a running demo instance.

    .venv/bin/python docs/guides/shots.py [--base-url http://127.0.0.1:8000] [--story] [--only ROLE ...]

For each role it signs in as the demo user who plays it (password LienThong@2026), opens the pages
of that role's main tasks and saves them at desktop (1280 px) and phone (390 px) widths as
docs/guides/img/<role>-<task>-<width>.png. The instance must hold the demo data (`make run` seeds
it on first start); `--story` first runs `lienthong demo` against it, so that one more document,
meeting and report request have gone through every step.

Which document, meeting or minutes to show is looked up through the public API (/api/v1) as the
same demo user, so the script does not depend on database ids. A long page is cut to its top (or
to the part starting at a named section) so that each PNG stays small.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from demo.directory import DEMO_PASSWORD as PASSWORD

ROOT = Path(__file__).resolve().parents[2]
IMG = Path(__file__).resolve().parent / "img"
CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [  # as tests/e2e/conftest.py
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
WIDTHS = {1280: 800, 390: 844}  # width -> viewport height
MAX_HEIGHT = {1280: 1400, 390: 2000}  # the longest part of a page kept, in CSS pixels


class ShotFailed(Exception):
    pass


@dataclass
class Shot:
    role: str
    task: str
    user: str
    path: Callable[[Api], str] | str
    anchor: str | None = None  # CSS selector: start the picture at this element
    height: int | None = None  # keep at most this many CSS pixels
    prepare: Callable[[Any, Api], None] | None = None  # act on the page before the picture
    stretch: bool = False  # grow the window to the picture (for a bar stuck to the bottom of the screen)
    widths: tuple[int, ...] = (1280, 390)


@dataclass
class Api:
    """The public API as the demo users, to find what each picture shows."""

    base_url: str
    clients: dict[str, httpx.Client] = field(default_factory=dict)
    cache: dict[str, Any] = field(default_factory=dict)
    ids: dict[str, int] = field(default_factory=dict)

    def get(self, user: str, path: str, **params: Any) -> Any:
        if user not in self.clients:
            client = httpx.Client(base_url=self.base_url, timeout=60, headers={"accept": "application/json", "accept-language": "vi"})
            answer = client.post(
                "/api/v1/tokens", json={"username": user, "password": PASSWORD, "name": "guide screenshots", "scope": "read", "days": 30}
            )
            if answer.status_code >= 400:  # an older instance without read-only tokens
                answer = client.post(
                    "/api/v1/tokens",
                    json={"username": user, "password": PASSWORD, "name": "guide screenshots", "scope": "full", "days": 30},
                )
            answer.raise_for_status()
            self.ids[user] = answer.json()["user_id"]
            client.headers["authorization"] = f"Bearer {answer.json()['token']}"
            self.clients[user] = client
        answer = self.clients[user].get(path, params=params)
        answer.raise_for_status()
        return answer.json()

    def first(self, user: str, path: str, what: str, **params: Any) -> dict[str, Any]:
        items = self.get(user, path, **params)["items"]
        if not items:
            raise ShotFailed(f"nothing in {path} {params} for {user}: {what}")
        return items[0]

    def meeting(self, status: str) -> int:
        for meeting in self.get("lan.nguyen", "/api/v1/meetings")["items"]:
            if meeting["status"] == status:
                return meeting["id"]
        raise ShotFailed(f"no demo meeting is {status}")

    def minutes(self, status: str) -> int:
        """The meeting whose minutes are in `status` (the demo's held meetings)."""
        key = f"minutes-{status}"
        if key not in self.cache:
            for meeting in self.get("lan.nguyen", "/api/v1/meetings", status="closed")["items"]:
                try:
                    found = self.get("lan.nguyen", f"/api/v1/meetings/{meeting['id']}/minutes")
                except httpx.HTTPStatusError:
                    continue
                if found["status"] == status:
                    self.cache[key] = meeting["id"]
                    break
            else:
                raise ShotFailed(f"no demo minutes are {status}")
        return self.cache[key]

    def report_target(self, user: str, status: str) -> str:
        for row in self.get(user, "/api/v1/reports/received")["items"]:
            if row["target"]["status"] == status:
                return f"/reports/{row['request_id']}/targets/{row['target']['organization_id']}"
        raise ShotFailed(f"no report request is {status} for {user}")

    def org_id(self, code: str) -> int:
        for org in self.get("quantri", "/api/v1/organizations"):
            if org["code"] == code:
                return org["id"]
        raise ShotFailed(f"no organisation {code}")

    def user_id(self, username: str) -> int:
        self.get(username, "/api/v1/notifications")  # signs in, which tells the id
        return self.ids[username]


def _incoming(user: str, queue: str) -> Callable[[Api], str]:
    return lambda api: f"/incoming/{api.first(user, f'/api/v1/incoming/queues/{queue}', queue)['id']}"


def _outgoing(user: str, tab: str) -> Callable[[Api], str]:
    return lambda api: f"/outgoing/{api.first(user, '/api/v1/outgoing', tab, tab=tab)['id']}"


def _task(user: str) -> Callable[[Api], str]:
    return lambda api: f"/tasks/{api.first(user, '/api/v1/tasks', 'a task', view='mine', status='all')['id']}"


def _issued(api: Api) -> dict[str, Any]:
    """The province's most recently issued document (numbered, sealed, sent)."""
    return api.first("mai.tran", "/api/v1/outgoing", "an issued document", tab="issued")


def _fill_verify(page: Any, api: Api) -> None:
    """Check the signatures of an issued document: its signed PDF, downloaded then uploaded."""
    issued = _issued(api)
    pdf = page.request.get(f"/outgoing/{issued['id']}/pdf")
    if not pdf.ok:
        raise ShotFailed(f"the issued PDF did not download: {pdf.status}")
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"{issued['notation'].replace('/', '-')}.pdf"
        path.write_bytes(pdf.body())
        form = page.locator('form[action="/signing/verify"]')
        form.locator('input[type="file"]').set_input_files(str(path))
        form.locator('button[type="submit"], button:not([type])').first.click()
        page.wait_for_load_state("load")


SHOTS: list[Shot] = [
    # Văn thư — the province's clerk
    Shot("van-thu", "home", "mai.tran", "/"),
    Shot("van-thu", "cho-vao-so", "mai.tran", "/incoming/to-register"),
    Shot("van-thu", "vao-so", "mai.tran", _incoming("mai.tran", "to-register"), anchor="section:has(form[action$='/register'])"),
    Shot("van-thu", "tiep-nhan-giay", "mai.tran", "/incoming/new"),
    Shot("van-thu", "cho-phat-hanh", "mai.tran", "/outgoing?tab=issue"),
    Shot("van-thu", "phat-hanh", "mai.tran", _outgoing("mai.tran", "issue"), height=900),
    Shot("van-thu", "da-phat-hanh", "mai.tran", _outgoing("mai.tran", "issued"), height=900),
    Shot("van-thu", "so-den", "mai.tran", "/incoming/book"),
    Shot("van-thu", "so-di", "mai.tran", "/outgoing/register"),
    # Lãnh đạo — the province's chairwoman
    Shot("lanh-dao", "home", "lan.nguyen", "/"),
    Shot("lanh-dao", "cho-but-phe", "lan.nguyen", "/incoming/to-direct"),
    Shot("lanh-dao", "but-phe", "lan.nguyen", _incoming("lan.nguyen", "to-direct"), anchor="#direct"),
    Shot("lanh-dao", "cho-ky", "lan.nguyen", "/outgoing?tab=sign"),
    Shot("lanh-dao", "ky-van-ban", "lan.nguyen", _outgoing("lan.nguyen", "sign")),
    Shot("lanh-dao", "ky-bien-ban", "lan.nguyen", lambda api: f"/meetings/{api.minutes('awaiting_chair')}/minutes"),
    # Chuyên viên — officers of the province, and of a district for a report
    Shot("chuyen-vien", "dang-xu-ly", "thu.le", "/incoming/tasks"),
    Shot("chuyen-vien", "xu-ly", "thu.le", _incoming("thu.le", "in-progress"), anchor="#handle"),
    Shot("chuyen-vien", "du-thao", "thu.le", "/outgoing/new"),
    Shot("chuyen-vien", "nhiem-vu", "hanh.pham", "/tasks"),
    Shot("chuyen-vien", "nhiem-vu-chi-tiet", "hanh.pham", _task("hanh.pham")),
    Shot("chuyen-vien", "nop-bao-cao", "chauthanh.chuyenvien", lambda api: api.report_target("chauthanh.chuyenvien", "delivered")),
    # Chủ trì cuộc họp — the chair's console of the meeting open now
    Shot("chu-tri", "lich-hop", "lan.nguyen", "/meetings"),
    Shot("chu-tri", "dieu-hanh", "lan.nguyen", lambda api: f"/meetings/{api.meeting('open')}/console"),
    Shot("chu-tri", "bieu-quyet", "lan.nguyen", lambda api: f"/meetings/{api.meeting('open')}/console", anchor=".mt-vote"),
    # Thư ký — the secretary
    Shot("thu-ky", "diem-danh", "ngoc.vo", lambda api: f"/meetings/{api.meeting('open')}/console", anchor=".mt-people"),
    Shot("thu-ky", "bien-ban", "ngoc.vo", lambda api: f"/meetings/{api.minutes('draft')}/minutes", stretch=True),
    Shot("thu-ky", "bien-ban-tra-lai", "ngoc.vo", lambda api: f"/meetings/{api.minutes('returned')}/minutes", height=900, stretch=True),
    # Đại biểu — participants: one not checked in yet, one in the room
    Shot("dai-bieu", "giay-moi", "thu.le", lambda api: f"/meetings/{api.meeting('scheduled')}", height=1000),
    Shot("dai-bieu", "diem-danh", "hanh.pham", lambda api: f"/meetings/{api.meeting('open')}/room", height=900),
    Shot("dai-bieu", "phat-bieu-bieu-quyet", "thu.le", lambda api: f"/meetings/{api.meeting('open')}/room", anchor=".mt-speakers"),
    # Kiểm tra — the auditor
    Shot("kiem-tra", "nhat-ky", "dung.huynh", lambda api: f"/audit?notation={quote(_issued(api)['notation'])}"),
    Shot("kiem-tra", "doi-tuong", "dung.huynh", lambda api: f"/audit/object/outgoing/{_issued(api)['id']}"),
    Shot("kiem-tra", "kiem-chung", "dung.huynh", "/audit/verify"),
    # The signing page is for staff: a clerk checks the PDF the auditor was given.
    Shot("kiem-tra", "kiem-tra-pdf", "mai.tran", "/signing", prepare=_fill_verify),
    # Quản trị — the administrator
    Shot("quan-tri", "to-chuc", "quantri", "/admin"),
    Shot("quan-tri", "co-quan", "quantri", lambda api: f"/admin/orgs/{api.org_id('hlhpn-bentre')}"),
    Shot("quan-tri", "nguoi-dung", "quantri", lambda api: f"/admin/users/{api.user_id('thu.le')}"),
    Shot("quan-tri", "chung-thu", "quantri", "/admin/certificates"),
    Shot("quan-tri", "ngay-nghi", "quantri", "/admin/holidays"),
    Shot("quan-tri", "webhook", "quantri", "/admin/webhooks"),
]


def sign_in(page: Any, base_url: str, username: str) -> None:
    page.goto(base_url + "/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(PASSWORD)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(base_url + "/")


def take(page: Any, api: Api, shot: Shot, url: str, width: int) -> Path:
    page.set_viewport_size({"width": width, "height": WIDTHS[width]})
    page.goto(url)
    page.wait_for_load_state("load")
    if shot.prepare:
        shot.prepare(page, api)
    page.wait_for_timeout(700)  # live pages fill in from their first state
    top = 0
    if shot.anchor:
        for selector in shot.anchor.split(","):
            found = page.locator(selector.strip())
            if found.count() and found.first.is_visible():
                box = found.first.bounding_box()
                top = max(0, int(box["y"] + page.evaluate("window.scrollY")) - 16)
                break
        else:
            raise ShotFailed(f"{shot.anchor} is not on {url}")
    full = page.evaluate("Math.max(document.documentElement.scrollHeight, document.body.scrollHeight)")
    height = max(200, min(full - top, shot.height or MAX_HEIGHT[width]))
    path = IMG / f"{shot.role}-{shot.task}-{width}.png"
    if shot.stretch:
        # The viewport becomes the picture: a bar stuck to the bottom of the screen stays there.
        page.set_viewport_size({"width": width, "height": height})
        page.evaluate(f"window.scrollTo(0, {top})")
        page.wait_for_timeout(300)
        page.screenshot(path=str(path))
    else:
        page.screenshot(path=str(path), full_page=True, clip={"x": 0, "y": top, "width": width, "height": height})
    _shrink(path)
    return path


def _shrink(path: Path) -> None:
    """128 colours are plenty for pages of text and keep each PNG a third of its size."""
    from PIL import Image

    with Image.open(path) as image:
        small = image.convert("RGB").quantize(colors=128, method=Image.Quantize.FASTOCTREE, dither=Image.Dither.NONE)
    small.save(path, optimize=True)


def run_story(base_url: str) -> None:
    print(f"lienthong demo --base-url {base_url}", flush=True)
    subprocess.run([sys.executable, "-m", "web.cli", "demo", "--base-url", base_url], cwd=ROOT, check=True)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--base-url", default="http://127.0.0.1:8000")
    parser.add_argument("--story", action="store_true", help="run `lienthong demo` first")
    parser.add_argument("--only", nargs="*", default=[], help="roles to take (van-thu, lanh-dao, …)")
    args = parser.parse_args(argv)
    base_url = args.base_url.rstrip("/")
    if args.story:
        run_story(base_url)

    from playwright.sync_api import Error as PlaywrightError
    from playwright.sync_api import sync_playwright

    IMG.mkdir(parents=True, exist_ok=True)
    api = Api(base_url)
    shots = [s for s in SHOTS if not args.only or s.role in args.only]
    failed: list[str] = []
    started = time.monotonic()
    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for user in dict.fromkeys(s.user for s in shots):
                contexts = {}
                for width, height in WIDTHS.items():
                    context = browser.new_context(
                        viewport={"width": width, "height": height},
                        base_url=base_url,
                        locale="vi-VN",
                        timezone_id="Asia/Ho_Chi_Minh",
                        device_scale_factor=1,
                        is_mobile=width < 600,
                        has_touch=width < 600,
                    )
                    page = context.new_page()
                    sign_in(page, base_url, user)
                    contexts[width] = (context, page)
                for shot in (s for s in shots if s.user == user):
                    name = f"{shot.role}-{shot.task}"
                    try:
                        path = shot.path(api) if callable(shot.path) else shot.path
                        for width in shot.widths:
                            saved = take(contexts[width][1], api, shot, base_url + path, width)
                            print(f"✓ {saved.relative_to(ROOT)} ({saved.stat().st_size // 1024} KB) {path}", flush=True)
                    except (ShotFailed, httpx.HTTPError, PlaywrightError) as exc:  # one missing picture must not hide the others
                        failed.append(name)
                        print(f"✗ {name}: {exc}", flush=True)
                for context, _ in contexts.values():
                    context.close()
        finally:
            browser.close()
    print(f"{len(shots) - len(failed)}/{len(shots)} pages in {time.monotonic() - started:.0f} s → {IMG.relative_to(ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
