"""Stored XSS in Chromium: script and HTML payloads typed into every kind of user text (document
subjects, file names, meeting titles, agenda items, poll questions, speaker notes, report titles,
notifications, an organisation's name, a person's full name, minutes text, task titles) are opened
on every page that shows them, including the live room, the chair's console and the projector: no
script runs and no dialog opens; the payload shows as text."""

from __future__ import annotations

import html
import re
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from demo.directory import DEMO_PASSWORD
from tests.e2e.conftest import DESKTOP, PHONE, screenshot, sign_in
from tests.hostile.corpus import tiny_pdf

pytestmark = pytest.mark.e2e
VN = timezone(timedelta(hours=7))
# One text carrying the usual vectors: an event handler, a script element, breaking out of an
# attribute, and a javascript: URL where a link could be made of it.
PAYLOAD = 'XSS <img src=x onerror=window.__xss=1> <script>window.__xss=1</script> "><svg onload=window.__xss=1> javascript:window.__xss=1'
SHOWN = "XSS <img src=x onerror=window.__xss=1>"  # how the start of it must read on the page


def _session(base: str, username: str) -> tuple[httpx.Client, str]:
    client = httpx.Client(base_url=base, follow_redirects=False, timeout=30)
    token = client.get("/login").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    assert client.post("/login", data={"username": username, "password": DEMO_PASSWORD, "csrf_token": token}).status_code == 303
    csrf = client.get("/").text.split('name="csrf_token" value="', 1)[1].split('"', 1)[0]
    return client, csrf


def _option(page: str, label: str) -> str:
    return re.search(r'<option value="(\d+)"[^>]*>\s*' + re.escape(label), page).group(1)  # type: ignore[union-attr]


def _plant_directory(base: str) -> dict[str, str]:
    """The administrator names a new district union and a new officer of the province with the
    payload: both then appear in pickers and lists across the application."""
    admin, csrf = _session(base, "quantri")
    home = admin.get("/admin").text
    province = re.search(r'href="/admin/orgs/(\d+)"', home).group(1)  # type: ignore[union-attr]
    created = admin.post(
        "/admin/orgs",
        data={
            "csrf_token": csrf,
            "code": "xss-district",
            "name": PAYLOAD,
            "abbreviation": "XSS",
            "level": "district",
            "parent_id": province,
            "place": PAYLOAD,
            "parent_body": PAYLOAD,
        },
    )
    assert created.status_code == 303, created.text[-2000:]
    org = created.headers["location"].split("?")[0]
    created = admin.post(
        f"/admin/orgs/{province}/users",
        data={
            "csrf_token": csrf,
            "username": "xss.officer",
            "password": DEMO_PASSWORD,
            "full_name": PAYLOAD,
            "position": PAYLOAD,
            "email": "xss@example.org",
            "role": "officer",
        },
    )
    assert created.status_code == 303, created.text[-2000:]
    user = created.headers["location"].split("?")[0]
    admin.close()
    return {"org": org, "user": user, "province": f"/admin/orgs/{province}"}


def _plant_minutes(base: str, mid: str) -> dict[str, str]:
    """The secretary writes the payload into every part of the minutes and turns a conclusion into
    a task for the payload-named officer; returns the minutes and task pages."""
    secretary, csrf = _session(base, "ngoc.vo")
    headers = {"X-CSRF-Token": csrf}
    assert secretary.post(f"{mid}/minutes/start", data={"csrf_token": csrf}).status_code == 303
    page = secretary.get(f"{mid}/minutes").text
    boot = html.unescape(page)  # the editor's state sits in an attribute
    minutes_id = re.search(r'"minutes_id": (\d+)', boot).group(1)  # type: ignore[union-attr]
    state = secretary.get(f"/minutes/{minutes_id}/state.json").json()
    item = re.search(r'"items": \[\{"id": (\d+)', boot).group(1)  # type: ignore[union-attr]
    content = {
        "opening": PAYLOAD,
        "closing": PAYLOAD,
        "items": {item: {"discussion": PAYLOAD, "conclusion": PAYLOAD, "opinions": [{"name": PAYLOAD, "text": PAYLOAD}]}},
    }
    saved = secretary.post(f"/minutes/{minutes_id}/save", json={"base_revision": state["revision"], "content": content}, headers=headers)
    assert saved.status_code == 200, saved.text[-2000:]
    owner = re.search(r'<option value="(user:\d+)"[^>]*>[^<]*XSS &lt;img', page)
    assert owner is not None, "the payload-named officer is offered as a task owner"
    created = secretary.post(
        f"/minutes/{minutes_id}/tasks",
        data={
            "csrf_token": csrf,
            "item_id": item,
            "title": PAYLOAD,
            "owner": owner.group(1),
            "due_date": (datetime.now(VN).date() + timedelta(days=10)).isoformat(),
            "description": PAYLOAD,
        },
    )
    assert created.status_code == 303, created.text[-2000:]
    tasks = secretary.get("/tasks?view=assigned").text
    task = re.search(r'href="(/tasks/\d+)"[^>]*>\s*XSS', tasks)
    secretary.close()
    return {"minutes": f"{mid}/minutes", "task": task.group(1) if task else "/tasks"}


def _plant(base: str) -> dict[str, str]:
    """Puts the payload into every text a clerk, an officer and a leader type; returns the pages."""
    clerk, csrf = _session(base, "mai.tran")
    meeting_form = clerk.get("/meetings/new").text
    org = re.search(r'name="organization_id"><option value="(\d+)"', meeting_form).group(1)  # type: ignore[union-attr]
    today = datetime.now(VN).date()
    created = clerk.post(
        "/incoming",
        data={
            "csrf_token": csrf,
            "organization_id": org,
            "issuer_name": PAYLOAD,
            "number_notation": "77/CV-XSS",
            "document_date": (today - timedelta(days=1)).isoformat(),
            "doc_type": "CV",
            "subject": PAYLOAD,
            "urgency": "normal",
            "secrecy": "normal",
            "arrival_date": today.isoformat(),
        },
        files=[("files", (PAYLOAD.replace("/", " ") + ".pdf", tiny_pdf(), "application/pdf"))],
    )
    assert created.status_code == 303, created.text[-2000:]
    incoming = created.headers["location"].split("?")[0]

    start = datetime.now(VN) + timedelta(days=1)
    created = clerk.post(
        "/meetings",
        data={
            "csrf_token": csrf,
            "organization_id": org,
            "title": PAYLOAD,
            "chair_id": _option(meeting_form, "Nguyễn Thị Lan"),
            "secretary_id": _option(meeting_form, "Võ Thị Bích Ngọc"),
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "mode": "online",
            "place": PAYLOAD,
        },
    )
    assert created.status_code == 303, created.text[-2000:]
    mid = int(re.search(r"/meetings/(\d+)", created.headers["location"]).group(1))  # type: ignore[union-attr]
    detail = clerk.get(f"/meetings/{mid}").text
    hue = re.search(r'name="user_ids" value="(\d+)"> Đỗ Thị Huệ', detail).group(1)  # type: ignore[union-attr]
    named = re.search(r'name="user_ids" value="(\d+)"> XSS &lt;img', detail)  # the payload-named officer
    assert named is not None, "the payload-named officer is offered as a participant"
    clerk.post(f"/meetings/{mid}/participants", data={"csrf_token": csrf, "user_ids": [hue, named.group(1)]})
    clerk.post(f"/meetings/{mid}/items", data={"csrf_token": csrf, "title": PAYLOAD, "planned_minutes": "10", "presenter_name": PAYLOAD})
    clerk.post(
        f"/meetings/{mid}/documents",
        data={"csrf_token": csrf, "title": PAYLOAD},
        files={"file": ("tai-lieu.pdf", tiny_pdf(), "application/pdf")},
    )
    assert clerk.post(f"/meetings/{mid}/schedule", data={"csrf_token": csrf}).status_code == 303

    officer, csrf = _session(base, "thu.le")
    draft_form = officer.get("/outgoing/new").text
    created = officer.post(
        "/outgoing",
        data={
            "csrf_token": csrf,
            "doc_type": "CV",
            "subject": PAYLOAD,
            "body": PAYLOAD,
            "external_recipients": PAYLOAD,
            "signer_id": _option(draft_form, "Nguyễn Thị Lan"),
            "urgency": "normal",
            "secrecy": "normal",
            "groups": "district",
        },
        files=[("files", (PAYLOAD.replace("/", " ") + ".pdf", tiny_pdf(), "application/pdf"))],
    )
    assert created.status_code == 303, created.text[-2000:]
    outgoing = created.headers["location"].split("?")[0]

    leader, csrf = _session(base, "lan.nguyen")
    created = leader.post(
        "/reports",
        data={
            "csrf_token": csrf,
            "organization_id": org,
            "title": PAYLOAD,
            "instructions": PAYLOAD,
            "deadline_date": (today + timedelta(days=20)).isoformat(),
            "deadline_time": "17:00",
            "scope": "children",
            "field_name": [PAYLOAD],
            "field_unit": [PAYLOAD],
            "field_kind": ["integer"],
        },
    )
    assert created.status_code == 303, created.text[-2000:]
    report = created.headers["location"].split("?")[0]
    for client in (clerk, officer, leader):
        client.close()
    return {"incoming": incoming, "outgoing": outgoing, "meeting": f"/meetings/{mid}", "report": report}


def _watch(page) -> list[str]:  # type: ignore[no-untyped-def]
    dialogs: list[str] = []

    def dismiss(dialog) -> None:  # type: ignore[no-untyped-def]
        dialogs.append(dialog.message)
        dialog.dismiss()

    page.on("dialog", dismiss)
    return dialogs


def _clean(page, dialogs: list[str], where: str) -> None:  # type: ignore[no-untyped-def]
    page.wait_for_load_state("load")
    assert page.evaluate("typeof window.__xss") == "undefined", f"script ran on {where}"
    assert not dialogs, f"dialog on {where}: {dialogs}"


def test_stored_payloads_render_as_text_on_every_page(live_dev, browser) -> None:
    base = live_dev.url
    directory = _plant_directory(base)
    paths = _plant(base)
    mid = paths["meeting"]
    pages_by_user = {
        "mai.tran": ["/", "/incoming", paths["incoming"], mid, "/meetings", f"{mid}/projector", "/notifications", "/meetings/new"],
        "thu.le": ["/", "/outgoing", paths["outgoing"], "/notifications", "/outgoing/new"],
        "lan.nguyen": ["/", "/reports", paths["report"], "/meetings", mid, "/notifications", paths["incoming"], "/reports/new"],
        "hue.do": ["/", mid, "/notifications"],
        "quantri": ["/admin", directory["org"], directory["user"], directory["province"]],
        "xss.officer": ["/", "/account", mid],
    }
    seen = 0
    for username, paths_of in pages_by_user.items():
        for size, label in ((DESKTOP, "desktop"), (PHONE, "390")):
            context = browser.new_context(viewport=size, locale="vi-VN")
            page = context.new_page()
            dialogs = _watch(page)
            sign_in(page, base, username, DEMO_PASSWORD)
            for path in paths_of:
                response = page.goto(base + path)
                assert response is not None and response.status < 400, (username, path, response and response.status)
                _clean(page, dialogs, f"{path} as {username} ({label})")
                seen += 1
            if username == "mai.tran":
                page.goto(base + paths["incoming"])
                page.get_by_text(SHOWN).first.wait_for()
                screenshot(page, f"xss-incoming-{label}")
            if username == "lan.nguyen":
                page.goto(base + mid)
                page.get_by_text(SHOWN).first.wait_for()
                screenshot(page, f"xss-meeting-{label}")
            context.close()
    assert seen >= 40

    # The live meeting: the chair opens it and a vote whose question is the payload; a participant
    # asks to speak with the payload as her topic. Every screen renders the pushed text as text.
    chair_ctx = browser.new_context(viewport=DESKTOP, locale="vi-VN")
    member_ctx = browser.new_context(viewport=PHONE, locale="vi-VN")
    try:
        chair, member = chair_ctx.new_page(), member_ctx.new_page()
        chair_dialogs, member_dialogs = _watch(chair), _watch(member)
        sign_in(chair, base, "lan.nguyen", DEMO_PASSWORD)
        sign_in(member, base, "hue.do", DEMO_PASSWORD)
        chair.goto(f"{base}{mid}/console")
        member.goto(f"{base}{mid}/room")
        chair.get_by_role("button", name="Khai mạc cuộc họp").click()
        member.get_by_text("Đang họp").first.wait_for()
        member.get_by_role("button", name="Điểm danh: tôi có mặt").click()
        chair.locator('[data-list="people"] li', has_text="Đỗ Thị Huệ").get_by_text("Có mặt").wait_for()
        chair.get_by_label("Nội dung mới").fill(PAYLOAD)
        chair.locator('[data-form="add-item"]').get_by_role("button", name="Thêm").click()
        member.locator('[data-list="agenda"]').get_by_text(SHOWN).first.wait_for()
        member.get_by_label("Nội dung phát biểu (không bắt buộc)").fill(PAYLOAD)
        member.locator('[data-form="request-floor"]').get_by_role("button", name="Đăng ký phát biểu").click()
        chair.locator('[data-list="queue"]').get_by_text("Đỗ Thị Huệ").wait_for()
        chair.locator("summary", has_text="Mở biểu quyết").click()
        chair.get_by_label("Nội dung biểu quyết").fill(PAYLOAD)
        chair.get_by_role("button", name="Bắt đầu biểu quyết").click()
        member.get_by_role("button", name="Tán thành", exact=True).click()
        member.get_by_text("Bạn đã chọn: Tán thành").wait_for()
        projector = chair_ctx.new_page()
        projector_dialogs = _watch(projector)
        projector.goto(f"{base}{mid}/projector")
        projector.get_by_text(SHOWN).first.wait_for()
        screenshot(member, "xss-live-room-390")
        screenshot(chair, "xss-live-console")
        screenshot(projector, "xss-projector")
        _clean(chair, chair_dialogs, "the console")
        _clean(member, member_dialogs, "the live room")
        _clean(projector, projector_dialogs, "the projector")
    finally:
        chair_ctx.close()
        member_ctx.close()

    # Minutes text and a task from it: the secretary's editor, the chair's view, the owner's tasks.
    written = _plant_minutes(base, mid)
    for username, paths_of in {
        "ngoc.vo": [written["minutes"], "/tasks"],
        "lan.nguyen": [written["minutes"]],
        "xss.officer": ["/tasks", written["task"], "/notifications"],
    }.items():
        context = browser.new_context(viewport=PHONE if username == "xss.officer" else DESKTOP, locale="vi-VN")
        page = context.new_page()
        dialogs = _watch(page)
        sign_in(page, base, username, DEMO_PASSWORD)
        for path in paths_of:
            response = page.goto(base + path)
            assert response is not None and response.status < 400, (username, path, response and response.status)
            _clean(page, dialogs, f"{path} as {username}")
        if username == "xss.officer":
            assert written["task"] != "/tasks", "the task from the minutes is listed for its owner"
            page.get_by_text(SHOWN).first.wait_for()
            screenshot(page, "xss-task-390")
        if username == "lan.nguyen":
            page.get_by_text(SHOWN).first.wait_for()
            screenshot(page, "xss-minutes")
        context.close()
