"""A real `lienthong dev` (Temporal dev server, SQLite, worker, web) and Chromium via Playwright."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from tests.helpers import free_port

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "screens"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DESKTOP = {"width": 1280, "height": 860}
PHONE = {"width": 390, "height": 844}


@dataclass
class DevServer:
    url: str
    data_dir: Path
    process: subprocess.Popen[str]
    log: Path
    ports: dict[str, int]

    def wait_for_demo(self) -> None:
        """Until the first start's demo data is seeded (printed by `dev`); fails at once if a
        domain's demo failed, with the log's tail. Minutes on a loaded machine."""
        from web.runtime import DEMO_READY

        deadline = time.monotonic() + float(os.environ.get("LIENTHONG_E2E_DEMO_SECONDS", "900"))
        while time.monotonic() < deadline:
            text = self.log.read_text(encoding="utf-8", errors="replace")
            if DEMO_READY in text:
                return
            if "demo data incomplete" in text or self.process.poll() is not None:
                raise AssertionError(f"the demo data was not seeded:\n{text[-4000:]}")
            time.sleep(1)
        raise AssertionError(f"the demo data was not seeded in time:\n{self.log.read_text()[-4000:]}")


def start_dev(data_dir: Path, log: Path, ports: dict[str, int] | None = None) -> DevServer:
    ports = ports or {"web": free_port(), "temporal": free_port(), "ui": free_port(), "trust": free_port()}
    env = {
        **os.environ,
        "LIENTHONG_DATA_DIR": str(data_dir),
        "LIENTHONG_TRUST_SERVICES_PORT": str(ports["trust"]),
        "LIENTHONG_AUDIT_CHECKPOINT_MINUTES": "1",
    }
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "web.cli",
            "dev",
            "--port",
            str(ports["web"]),
            "--temporal-port",
            str(ports["temporal"]),
            "--temporal-ui-port",
            str(ports["ui"]),
        ],
        env=env,
        stdout=log.open("a"),
        stderr=subprocess.STDOUT,
        text=True,
    )
    url = f"http://127.0.0.1:{ports['web']}"
    # The first start seeds the demo data: minutes on a loaded machine (LIENTHONG_E2E_START_SECONDS).
    deadline = time.monotonic() + float(os.environ.get("LIENTHONG_E2E_START_SECONDS", "360"))
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"`lienthong dev` exited early:\n{log.read_text()[-3000:]}")
        try:
            if httpx.get(url + "/healthz", timeout=2).status_code == 200:
                return DevServer(url, data_dir, process, log, ports)
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    process.kill()
    raise RuntimeError(f"`lienthong dev` did not become healthy:\n{log.read_text()[-3000:]}")


def stop_dev(server: DevServer) -> int:
    server.process.send_signal(signal.SIGINT)
    # Generous: on first start the demo seeding may still be running and is cancelled first.
    return server.process.wait(timeout=180)


@pytest.fixture(scope="session")
def live_dev(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DevServer]:
    root = tmp_path_factory.mktemp("dev")
    server = start_dev(root / "var", root / "dev.log")
    yield server
    if server.process.poll() is None:
        stop_dev(server)


@pytest.fixture(scope="module")
def browser():  # type: ignore[no-untyped-def]
    """Chromium for one test module. Not for the session: while Playwright's sync API is open it
    keeps its event loop marked running in the main thread, and pytest-asyncio cannot run an async
    test after it (which a pytest-xdist worker may be given next)."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
        yield chromium
        chromium.close()


def screenshot(page, name: str) -> Path:  # type: ignore[no-untyped-def]
    """A full-page PNG in test-artifacts/. Chromium refuses one now and then when the machine is
    starved ("Unable to capture screenshot", a protocol error, the page itself fine): tried
    again twice before the test fails on it."""
    from playwright.sync_api import Error

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    for attempt in range(3):
        try:
            page.screenshot(path=str(path), full_page=True)
            return path
        except Error as error:
            if "Unable to capture screenshot" not in str(error) or attempt == 2:
                raise
            page.wait_for_timeout(500)
    return path


def sign_in(page, base_url: str, username: str, password: str) -> None:  # type: ignore[no-untyped-def]
    page.goto(base_url + "/login")
    page.get_by_label("Tên đăng nhập").fill(username)
    page.get_by_label("Mật khẩu").fill(password)
    page.get_by_role("button", name="Đăng nhập").click()
    page.wait_for_url(base_url + "/")


def reload_until(page, selector: str, timeout: float = 120) -> None:  # type: ignore[no-untyped-def]
    """Reload until `selector` shows (a workflow's step the page does not push live)."""
    deadline = time.monotonic() + timeout
    while page.locator(selector).count() == 0:
        if time.monotonic() > deadline:
            raise AssertionError(f"{selector} did not appear on {page.url}")
        time.sleep(1.5)
        try:
            page.reload()
        except Exception:  # noqa: BLE001 - the page reloaded itself on a live status change meanwhile
            page.wait_for_load_state()


class Sockets:
    """A page's live sockets through Playwright, each attempt recorded (`routes`); while `away`,
    every attempt is closed at once, as by a server that is not there: the page tries again."""

    def __init__(self, page, *, away: bool) -> None:  # type: ignore[no-untyped-def]
        self.away = away
        self.routes: list = []  # type: ignore[type-arg]
        page.route_web_socket(re.compile(r"/ws\?"), self._attempt)

    def _attempt(self, ws) -> None:  # type: ignore[no-untyped-def]
        self.routes.append(ws)
        if self.away:
            ws.close()
        else:
            ws.connect_to_server()
