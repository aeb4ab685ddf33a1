"""Driving Liên Thông over real HTTP the way a browser does: sign in, keep the session's CSRF
token, post forms, follow nothing (a 303 is the success answer of a page action).

The flows here are used by the routing benchmark and the fault harness: incoming (register,
direct, handle, close), outgoing (draft, review, sign with PIN, issue, dispatch), a meeting
(schedule, open, close) and a report request (fan-out, submissions).
"""

from __future__ import annotations

import asyncio
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

import httpx

from demo.directory import DEMO_PASSWORD, DEMO_PIN

CSRF_RE = re.compile(r'name="csrf_token" value="([^"]+)"')
ID_RE = re.compile(r"/(\d+)(?:\?|$)")


class ActionFailed(Exception):
    pass


# The proxy lost the web process while it held the request (killed mid-request): whether the
# action was saved is unknown, as for a user who sees nginx's "Bad Gateway".
LOST_IN_FLIGHT = {502, 504}


async def until(check: Callable[[], Awaitable[Any]], *, timeout: float, every: float = 0.25, what: str = "condition") -> Any:
    """Poll `check` until it returns something truthy; raise TimeoutError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout:.0f} s waiting for {what}")
        await asyncio.sleep(every)


@dataclass
class Browser:
    """One signed-in person's cookies and CSRF token; records each action's latency."""

    base_url: str
    username: str
    timings: list[float] | None = None
    patience: float = 120.0  # how long a 503 is retried
    client: httpx.AsyncClient = field(init=False)
    csrf: str = ""
    retries: int = 0  # 503 answers retried
    uncertain: int = 0  # posts whose web process died holding them (502/504), settled afterwards

    def __post_init__(self) -> None:
        self.client = httpx.AsyncClient(
            base_url=self.base_url, headers={"accept": "text/html"}, follow_redirects=False, timeout=httpx.Timeout(120.0)
        )

    async def sign_in(self) -> Browser:
        page = await self.client.get("/login")
        token = CSRF_RE.search(page.text)
        assert token, f"no CSRF token on /login ({page.status_code})"
        answer = await self.client.post(
            "/login", data={"username": self.username, "password": DEMO_PASSWORD, "csrf_token": token.group(1), "next": "/"}
        )
        if answer.status_code != 303:
            raise ActionFailed(f"sign-in of {self.username}: {answer.status_code} {answer.text[:300]}")
        home = await self.client.get("/")
        token = CSRF_RE.search(home.text)
        assert token, "no CSRF token on the home page"
        self.csrf = token.group(1)
        return self

    async def _patient(self, send: Callable[[], Awaitable[httpx.Response]]) -> httpx.Response:
        """Send; on 503 ("busy" or "database unreachable": nothing saved, or see for yourself) wait
        as the page's Retry-After says and send again, as a user would, for up to `patience` s."""
        deadline = time.monotonic() + self.patience
        while True:
            answer = await send()
            if answer.status_code != 503 or time.monotonic() > deadline:
                return answer
            self.retries += 1
            await asyncio.sleep(min(float(answer.headers.get("retry-after") or 1), 2.0))

    async def _sure(
        self, send: Callable[[], Awaitable[httpx.Response]], done: int, saved: Callable[[], Awaitable[str | None]] | None = None
    ) -> httpx.Response:
        """Send (patiently). When the proxy answers 502/504 the outcome is unknown, and the user
        does what a person does: look first, then send again. `saved` (for a create) looks the
        record up and returns where it is; found, the action counts as done (`done`, redirected
        there). A change of state is simply sent again: if the first went through, the second
        answers 409 (no longer in the state it needs), which here means done; the flows' later
        steps and the final invariants check the state."""
        answer = await self._patient(send)
        for _ in range(5):
            if answer.status_code not in LOST_IN_FLIGHT:
                break
            self.uncertain += 1
            await asyncio.sleep(0.5)
            where = await saved() if saved is not None else None
            if where is not None:
                return httpx.Response(done, headers={"location": where}, request=answer.request)
            answer = await self._patient(send)
            if answer.status_code == 409 and saved is None:
                return httpx.Response(done, json={}, request=answer.request)
        return answer

    async def action(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        files: list[Any] | None = None,
        *,
        expect: int = 303,
        saved: Callable[[], Awaitable[str | None]] | None = None,
    ) -> httpx.Response:
        """POST a form as the signed-in user; timed; anything but `expect` raises."""
        started = time.perf_counter()
        answer = await self._sure(
            lambda: self.client.post(path, data={**(data or {}), "csrf_token": self.csrf}, files=files), expect, saved
        )
        if self.timings is not None:
            self.timings.append(time.perf_counter() - started)
        if answer.status_code != expect:
            raise ActionFailed(f"{self.username} POST {path}: {answer.status_code} {answer.text[:500]}")
        return answer

    async def live(self, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        started = time.perf_counter()
        answer = await self._sure(
            lambda: self.client.post(path, json=body or {}, headers={"x-csrf-token": self.csrf, "accept": "application/json"}), 200
        )
        if self.timings is not None:
            self.timings.append(time.perf_counter() - started)
        if answer.status_code >= 300:
            raise ActionFailed(f"{self.username} POST {path}: {answer.status_code} {answer.text[:500]}")
        return answer

    async def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return await self._patient(lambda: self.client.get(path, **kwargs))

    async def get_json(self, path: str) -> Any:
        answer = await self.get(path, headers={"accept": "application/json"})
        answer.raise_for_status()
        return answer.json()

    async def live_hellos(self, count: int) -> list[str]:
        """Open `count` live sockets at once with this session, on its user's own channel (tabs
        reconnecting after a blip); for each, the first message it got or why it got none."""
        from websockets.asyncio.client import connect

        me = (await self.client.get("/api/me", headers={"accept": "application/json"})).json()
        url = str(self.client.base_url).replace("http", "ws", 1).rstrip("/") + f"/ws?channels=user-{me['id']}"
        cookie = "; ".join(f"{name}={value}" for name, value in self.client.cookies.items())

        async def first(timeout: float = 10.0) -> str:
            try:
                async with connect(url, additional_headers={"Cookie": cookie}, open_timeout=timeout) as ws:
                    return str(await asyncio.wait_for(ws.recv(), timeout))
            except Exception as error:  # noqa: BLE001 - reported, not raised: the caller judges
                return f"no hello: {error!r}"

        return list(await asyncio.gather(*(first() for _ in range(count))))

    async def close(self) -> None:
        await self.client.aclose()


def created_id(answer: httpx.Response) -> int:
    match = ID_RE.search(answer.headers.get("location", ""))
    if not match:
        raise ActionFailed(f"no id in the redirect {answer.headers.get('location')!r}")
    return int(match.group(1))


# --- directory lookups (set-up only) -----------------------------------------------------------------


@dataclass
class Directory:
    users: dict[str, int]
    orgs: dict[str, int]
    units: dict[tuple[str, str], int]
    workflow_prefix: str = ""  # the database's deployment prefix of workflow IDs
    database_url: str = ""

    def saved(self, table: str, column: str, value: str, page: str) -> Callable[[], Awaitable[str | None]]:
        """A look-up for `Browser.action(saved=…)`: where the record whose `column` is `value`
        is (`page`/id), if a create whose answer was lost did save it."""

        async def look() -> str | None:
            from sqlalchemy import text

            from services.db import Database

            database = Database(self.database_url)
            try:
                async with database.read() as session:
                    found = (await session.execute(text(f"SELECT id FROM {table} WHERE {column} = :v"), {"v": value})).scalar()
            finally:
                await database.dispose()
            return None if found is None else f"{page}/{found}"

        return look


async def load_directory(database_url: str) -> Directory:
    from sqlalchemy import select

    from services.db import Database
    from services.directory.models import Organization, Unit, User
    from services.outbox.service import workflow_prefix

    database = Database(database_url)
    try:
        async with database.read() as session:
            users = dict((await session.execute(select(User.username, User.id))).all())
            orgs = dict((await session.execute(select(Organization.code, Organization.id))).all())
            units = {
                (code, unit): uid
                for code, unit, uid in (
                    await session.execute(
                        select(Organization.code, Unit.code, Unit.id).join(Organization, Organization.id == Unit.organization_id)
                    )
                ).all()
            }
            prefix = await workflow_prefix(session)
    finally:
        await database.dispose()
    return Directory(users=users, orgs=orgs, units=units, workflow_prefix=prefix, database_url=database_url)


# --- incoming ---------------------------------------------------------------------------------------


def tiny_pdf(text: str) -> bytes:
    from demo.incoming import demo_pdf

    return demo_pdf(text)


_PDF_CACHE: dict[str, bytes] = {}


async def incoming_register(clerk: Browser, directory: Directory, tag: str) -> int:
    today = datetime.now().date()
    pdf = _PDF_CACHE.setdefault("incoming", tiny_pdf("Cong van den"))
    notation = f"{tag}/CV-SLĐTBXH"
    answer = await clerk.action(
        "/incoming",
        {
            "organization_id": str(directory.orgs["hlhpn-bentre"]),
            "issuer_name": "Sở Lao động - Thương binh và Xã hội",
            "number_notation": notation,
            "document_date": (today - timedelta(days=1)).isoformat(),
            "doc_type": "CV",
            "subject": f"Về việc phối hợp tuyên truyền ({tag})",
            "urgency": "normal",
            "secrecy": "normal",
            "arrival_date": today.isoformat(),
        },
        files=[("files", ("cong-van.pdf", pdf, "application/pdf"))],
        saved=directory.saved("incoming_documents", "number_notation", notation, "/incoming"),
    )
    return created_id(answer)


async def incoming_direct(leader: Browser, directory: Directory, doc_id: int, lead: str = "thu.le") -> None:
    await leader.action(
        f"/incoming/{doc_id}/direct",
        {"instruction": "Ban Tuyên giáo chủ trì tham mưu.", "lead": f"user:{directory.users[lead]}", "due_days": "10"},
    )


async def incoming_handle(lead: Browser, doc_id: int) -> None:
    await lead.action(f"/incoming/{doc_id}/progress", {"body": "Đang dự thảo kế hoạch."})


async def incoming_close(lead: Browser, doc_id: int) -> None:
    await lead.action(f"/incoming/{doc_id}/complete", {"result": "Đã triển khai."})


# --- outgoing ---------------------------------------------------------------------------------------

OUTGOING_RECIPIENTS = ("hlhpn-tpbentre", "hlhpn-chauthanh", "hlhpn-mocaynam")


async def outgoing_draft(drafter: Browser, directory: Directory, tag: str) -> int:
    subject = f"Về việc tổ chức Hội nghị sơ kết ({tag})"
    data: dict[str, Any] = {
        "doc_type": "CV",
        "subject": subject,
        "body": "Kính gửi các cơ sở Hội.\nĐề nghị các đơn vị triển khai thực hiện.",
        "signer_id": str(directory.users["lan.nguyen"]),
        "authority_prefix": "TM.",
        "authority_line": "BAN THƯỜNG VỤ",
        "unit_id": str(directory.units[("hlhpn-bentre", "VP")]),
        "urgency": "normal",
        "secrecy": "normal",
        "recipient_org_ids": [str(directory.orgs[c]) for c in OUTGOING_RECIPIENTS],
    }
    saved = directory.saved("outgoing_documents", "subject", subject, "/outgoing")
    return created_id(await drafter.action("/outgoing", data, saved=saved))


async def outgoing_submit(drafter: Browser, directory: Directory, doc_id: int, reviewer: str = "hanh.pham") -> None:
    await drafter.action(f"/outgoing/{doc_id}/submit", {"reviewer_ids": str(directory.users[reviewer]), "mode": "sequential"})


async def outgoing_review(reviewer: Browser, doc_id: int) -> None:
    await reviewer.action(f"/outgoing/{doc_id}/review", {"decision": "initialled", "comment": "Đồng ý."})


async def outgoing_status(someone: Browser, doc_id: int) -> dict[str, Any]:
    return await someone.get_json(f"/outgoing/{doc_id}/status")


async def outgoing_sign(leader: Browser, doc_id: int) -> None:
    await leader.action(f"/outgoing/{doc_id}/sign", {"pin": DEMO_PIN})


async def outgoing_issue(clerk: Browser, doc_id: int) -> None:
    await clerk.action(f"/outgoing/{doc_id}/issue", {"pin": DEMO_PIN})


# --- meetings ---------------------------------------------------------------------------------------


async def meeting_create(organiser: Browser, directory: Directory, tag: str) -> int:
    start = (datetime.now() + timedelta(days=3)).replace(hour=8, minute=0, second=0, microsecond=0)
    title = f"Giao ban tháng ({tag})"
    answer = await organiser.action(
        "/meetings",
        {
            "organization_id": str(directory.orgs["hlhpn-bentre"]),
            "title": title,
            "chair_id": str(directory.users["lan.nguyen"]),
            "secretary_id": str(directory.users["ngoc.vo"]),
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "mode": "online",
        },
        saved=directory.saved("meetings", "title", title, "/meetings"),
    )
    meeting_id = created_id(answer)
    await organiser.action(
        f"/meetings/{meeting_id}/participants",
        {"user_ids": [str(directory.users["thu.le"]), str(directory.users["hanh.pham"])], "role": "member"},
    )
    await organiser.action(f"/meetings/{meeting_id}/items", {"title": "Kết quả công tác tháng", "planned_minutes": "20"})
    return meeting_id


async def meeting_schedule(organiser: Browser, meeting_id: int) -> None:
    await organiser.action(f"/meetings/{meeting_id}/schedule")


async def meeting_open(chair: Browser, meeting_id: int) -> None:
    await chair.live(f"/meetings/{meeting_id}/live/open")


async def meeting_close(chair: Browser, meeting_id: int) -> None:
    await chair.live(f"/meetings/{meeting_id}/live/close")


# --- report requests --------------------------------------------------------------------------------


async def report_create(requester: Browser, directory: Directory, tag: str) -> int:
    deadline = (datetime.now() + timedelta(days=14)).date().isoformat()
    title = f"Báo cáo kết quả 6 tháng ({tag})"
    answer = await requester.action(
        "/reports",
        {
            "title": title,
            "instructions": "Gửi số liệu theo mẫu.",
            "organization_id": str(directory.orgs["hlhpn-bentre"]),
            "deadline_date": deadline,
            "deadline_time": "17:00",
            "scope": "children",
            "field_name": ["Số hội viên mới"],
            "field_unit": ["người"],
            "field_kind": ["integer"],
        },
        saved=directory.saved("report_requests", "title", title, "/reports"),
    )
    return created_id(answer)


FIG_RE = re.compile(r'name="(fig_\d+)"')


async def report_submit(reporter: Browser, request_id: int, org_id: int) -> None:
    """The target's leader hands in the report (file + every figure of the form)."""
    page = await reporter.get(f"/reports/{request_id}/targets/{org_id}")
    if page.status_code != 200:
        raise ActionFailed(f"{reporter.username} GET target page: {page.status_code}")
    figures = {name: "12" for name in FIG_RE.findall(page.text)}
    pdf = _PDF_CACHE.setdefault("report", tiny_pdf("Bao cao 6 thang"))
    await reporter.action(
        f"/reports/{request_id}/targets/{org_id}/submit",
        {"note": "Số liệu 6 tháng.", **figures},
        files=[("file", ("bao-cao.pdf", pdf, "application/pdf"))],
    )
