"""The webhooks administration page in Chromium (desktop and 390 px): subscribe an endpoint,
copy the secret shown once, send a test event to a real receiver, see the deliveries with their
attempts, redeliver. The app runs in uvicorn with the deliverer beside it, as in the worker
process; no Temporal is needed for these pages."""

from __future__ import annotations

import asyncio
import shutil
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import uvicorn

from services.config import Settings
from tests.e2e.conftest import DESKTOP, PHONE, reload_until, screenshot, sign_in
from tests.helpers import TEST_PAYLOAD_KEYS, free_port
from tests.webhooks.receiver import Receiver, serve

PASSWORD = "LienThong@2026"


class Served:
    """The app and the webhook deliverer on an event loop of their own, in a thread."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.started = threading.Event()
        self.server: uvicorn.Server | None = None
        self.thread = threading.Thread(target=lambda: asyncio.run(self._main()), daemon=True)

    async def _main(self) -> None:
        from services.db import Database
        from services.webhooks.delivery import run_deliverer
        from web.app import create_app
        from web.temporal import TemporalHandle

        database = Database(self.settings.sqlalchemy_url)
        app = create_app(settings=self.settings, database=database, temporal=TemporalHandle(self.settings))
        self.server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning", timeout_graceful_shutdown=1)
        )
        deliverer = asyncio.create_task(run_deliverer(database, self.settings))
        serving = asyncio.create_task(self.server.serve())
        while not self.server.started:
            await asyncio.sleep(0.05)
        self.started.set()
        await serving
        deliverer.cancel()
        await asyncio.gather(deliverer, return_exceptions=True)
        await database.dispose()

    def __enter__(self) -> Served:
        self.thread.start()
        assert self.started.wait(60), "the app did not start"
        return self

    def __exit__(self, *exc: object) -> None:
        assert self.server is not None
        self.server.should_exit = True
        self.thread.join(30)


@pytest.fixture
def served(db_templates, tmp_path: Path) -> Iterator[Served]:  # type: ignore[no-untyped-def]
    # Built in a thread: it runs an event loop, and Playwright's is running in this one.
    with ThreadPoolExecutor(1) as pool:
        template = pool.submit(db_templates.template, "sqlite", True).result().split(":///", 1)[1]
    (tmp_path / "data").mkdir()
    shutil.copy(template, tmp_path / "data" / "lienthong.db")
    settings = Settings(
        data_dir=tmp_path / "data",
        secret_key="e2e-webhooks",
        temporal_address=None,
        workflow_id_prefix="",
        payload_keys=TEST_PAYLOAD_KEYS,
        webhook_allow_http_localhost=True,  # the receiver below listens on this host
    )
    with Served(settings) as server:
        yield server


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    with serve() as state:
        yield state


def test_an_administrator_subscribes_and_follows_deliveries(browser, served: Served, receiver: Receiver) -> None:
    context = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    page = context.new_page()
    sign_in(page, served.url, "quantri", PASSWORD)
    page.goto(served.url + "/admin")
    page.get_by_role("link", name="Webhook (thông báo sự kiện)").click()
    page.wait_for_url(served.url + "/admin/webhooks")
    assert page.get_by_text("Chưa có địa chỉ nhận nào").is_visible()
    screenshot(page, f"admin-webhooks-empty-{DESKTOP['width']}")

    page.get_by_label("Địa chỉ nhận (HTTPS)").fill(receiver.url)
    page.get_by_label("Văn bản đi được phát hành").check()
    page.get_by_label("Mô tả (không bắt buộc)").fill("Cổng thông tin điện tử tỉnh")
    page.get_by_role("button", name="Đăng ký", exact=True).click()

    # The secret, once.
    secret_box = page.locator("[data-webhook-secret]")
    secret_box.wait_for()
    receiver.secret = page.locator("[data-secret]").inner_text().strip()
    assert receiver.secret.startswith("whsec_")
    screenshot(page, f"admin-webhook-created-{DESKTOP['width']}")

    page.get_by_role("button", name="Gửi sự kiện thử").click()
    page.wait_for_url("**/admin/webhooks/*?ok=test")
    assert page.locator("[data-webhook-secret]").count() == 0  # never shown again
    reload_until(page, "tr[data-delivery] .st-done", timeout=60)
    assert len(receiver.received) == 1 and receiver.received[0]["valid"] and receiver.received[0]["body"]["type"] == "ping"
    screenshot(page, f"admin-webhook-delivered-{DESKTOP['width']}")

    # The receiver fails the redelivery: the attempt is on the page with the next retry.
    receiver.fail = 2
    page.get_by_role("button", name="Gửi lại").click()
    page.wait_for_url("**/admin/webhooks/*?ok=redeliver")
    reload_until(page, "tr[data-delivery]:has-text('HTTP 500') .st-due_soon", timeout=60)
    row = page.locator("tr[data-delivery]").first
    assert "thử lại lúc" in row.inner_text() and "HTTP 500" in row.inner_text()
    row.locator("summary").click()
    assert "HTTP 204" in row.inner_text() and "HTTP 500" in row.inner_text()
    screenshot(page, f"admin-webhook-deliveries-{DESKTOP['width']}")

    phone = browser.new_context(viewport=PHONE, locale="vi-VN").new_page()
    sign_in(phone, served.url, "quantri", PASSWORD)
    phone.goto(page.url.split("?")[0])
    phone.locator("tr[data-delivery] summary").first.click()
    screenshot(phone, f"admin-webhook-deliveries-{PHONE['width']}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    phone.goto(served.url + "/admin/webhooks")
    screenshot(phone, f"admin-webhooks-{PHONE['width']}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    # English second, from the same catalogues.
    phone.goto(served.url + "/lang/en?next=/admin/webhooks")
    assert phone.get_by_role("heading", name="Webhooks").is_visible()
    phone.get_by_text("Subscribe an endpoint").click()
    screenshot(phone, f"admin-webhooks-en-{PHONE['width']}")
    assert phone.evaluate("document.documentElement.scrollWidth") <= PHONE["width"]
    context.close()
