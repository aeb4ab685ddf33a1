"""`lienthong demo`: the whole story against a running instance, through the public API only
(/api/v1), as the demo users would live it — one line per step, a non-zero exit at the first
failure, and a summary of what was made and how long each step took.

The instance must hold the demo data (`make run` seeds it) and run its worker: the story waits
for what the workflows do (the PDF to sign rendered, a document delivered, a status sent back).
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta, timezone
from functools import partial
from typing import Any, TypeVar

import httpx

from demo.directory import DEMO_PASSWORD, DEMO_PIN
from demo.incoming import demo_pdf
from services.outgoing import edxml

T = TypeVar("T")
PROVINCE = "hlhpn-bentre"
DISTRICT = "hlhpn-chauthanh"
VN = timezone(timedelta(hours=7))
REMINDER_MARGIN_SECONDS = 30
# A recipient outside the system (its own e-office): its copy goes as an edXML package.
OUTSIDE = edxml.Organ(organ_id="000.00.31.H07", name="UBND huyện Châu Thành")


class StoryFailed(Exception):
    """A step did not come out as a user would expect; the message says what was seen."""


@dataclass
class Story:
    base_url: str
    wait_seconds: float = 180.0
    out: Callable[[str], None] = print
    tag: str = field(default_factory=lambda: time.strftime("%H%M%S"))
    timings: list[tuple[str, float]] = field(default_factory=list)
    made: dict[str, list[str]] = field(default_factory=dict)
    signed_pdfs: list[tuple[str, str, str]] = field(default_factory=list)  # (what, url, username)
    _clients: dict[str, httpx.Client] = field(default_factory=dict)
    _ids: dict[str, int] = field(default_factory=dict)
    _orgs: dict[str, int] = field(default_factory=dict)

    # --- plumbing ----------------------------------------------------------------------------------

    def as_(self, username: str) -> httpx.Client:
        """A client holding `username`'s API token, asked for with the demo password once."""
        if username not in self._clients:
            client = httpx.Client(base_url=self.base_url, timeout=120, headers={"accept": "application/json", "accept-language": "vi"})
            answer = client.post(
                "/api/v1/tokens",
                json={"username": username, "password": DEMO_PASSWORD, "name": "lienthong demo", "scope": "full", "days": 30},
            )
            _check(answer, f"sign in as {username}")
            client.headers["authorization"] = f"Bearer {answer.json()['token']}"
            self._clients[username] = client
            self._ids[username] = answer.json()["user_id"]
        return self._clients[username]

    def user_id(self, username: str) -> int:
        self.as_(username)
        return self._ids[username]

    def username_of(self, user_id: int, candidates: tuple[str, ...]) -> str:
        """Which of `candidates` has this id (the demo users the story knows)."""
        found = next((u for u in candidates if self.user_id(u) == user_id), None)
        if found is None:
            raise StoryFailed(f"user {user_id} is none of {candidates}")
        return found

    def org_id(self, code: str) -> int:
        if not self._orgs:
            self._orgs = {o["code"]: o["id"] for o in self.call("thu.le", "GET", "/api/v1/organizations")}
        return self._orgs[code]

    def call(self, username: str, method: str, path: str, **kwargs: Any) -> Any:
        answer = self.as_(username).request(method, path, **kwargs)
        _check(answer, f"{username}: {method} {path}")
        return answer.json()

    def wait(self, what: str, probe: Callable[[], T | None]) -> T:
        """Poll until `probe` gives something (what a workflow does takes its time)."""
        deadline = time.monotonic() + self.wait_seconds
        while True:
            found = probe()
            if found:
                return found
            if time.monotonic() > deadline:
                raise StoryFailed(f"waited {self.wait_seconds:.0f} s for {what}")
            time.sleep(0.5)

    @contextmanager
    def step(self, title: str) -> Iterator[None]:
        start = time.monotonic()
        try:
            yield
        except StoryFailed as exc:
            self.out(f"✗ {title}: {exc}")
            raise
        took = time.monotonic() - start
        self.timings.append((title, took))
        self.out(f"✓ {title} ({took:.1f} s)")

    def note(self, kind: str, label: str) -> None:
        self.made.setdefault(kind, []).append(label)

    # --- documents ---------------------------------------------------------------------------------

    def draft(self, officer: str, signer: str, subject: str, recipients: list[int], doc_type: str = "BC", **extra: Any) -> dict[str, Any]:
        fields = {
            "doc_type": doc_type,
            "subject": f"{subject} ({self.tag})",
            "body": f"{subject}.\nĐề nghị các đơn vị nghiên cứu, triển khai thực hiện.",
            "signer_id": str(self.user_id(signer)),
            "recipient_org_ids": [str(r) for r in recipients],
            **extra,
        }
        return self.call(officer, "POST", "/api/v1/outgoing", data=fields)

    def sign_and_issue(self, doc: dict[str, Any], signer: str, clerk: str) -> dict[str, Any]:
        url = f"/api/v1/outgoing/{doc['id']}"
        ready = self.wait(
            "the PDF to sign", lambda: (d := self.call(signer, "GET", url))["pdf_to_sign_url"] and "sign" in d["actions"] and d
        )
        self.call(
            signer, "POST", f"{url}/sign", data={"pin": DEMO_PIN}, headers={"if-match": ready["etag"], "idempotency-key": f"ky-{doc['id']}"}
        )
        issued = self.call(clerk, "POST", f"{url}/issue", json={"pin": DEMO_PIN}, headers={"idempotency-key": f"ph-{doc['id']}"})
        if issued["status"] != "issued" or not issued["notation"]:
            raise StoryFailed(f"document {doc['id']} not issued: {issued['status']}")
        self.signed_pdfs.append((issued["notation"], issued["pdf_url"], clerk))
        self.note("văn bản đi", f"{issued['notation']} — {issued['subject']}")
        return issued

    def edxml_round_trip(self, issued: dict[str, Any]) -> str:
        """The copy for a body on another system leaves as an edXML package carrying the issued
        PDF; that system's status ("03", received) comes back as a file the clerk imports, and
        the document's row for that recipient shows it."""
        clerk = self.as_("mai.tran")
        raw = clerk.get(issued["edxml_url"])
        _check(raw, "mai.tran: GET the edXML package")
        package = edxml.parse(raw.content)
        pdf = clerk.get(issued["pdf_url"]).content
        if issued["notation"] != package.number_notation or not any(a.data == pdf for a in package.attachments):
            raise StoryFailed(f"the edXML package of {issued['notation']} does not carry its issued PDF")
        answer = edxml.Status(
            sender=OUTSIDE,
            response_for=package.document_id,
            code="03",
            description="Đã tiếp nhận",
            timestamp=edxml.trace_time(datetime.now(UTC)),
            staff="Văn thư UBND huyện",
        )
        files = {"package": ("trang-thai-03.xml", edxml.build_status(answer), "application/xml")}
        imported = self.call("mai.tran", "POST", "/api/v1/outgoing/edxml/import", files=files)
        row = next(r for r in self.call("mai.tran", "GET", f"/api/v1/outgoing/{issued['id']}")["recipients"] if r["external"])
        if imported["outgoing_id"] != issued["id"] or row["status_code"] != "03":
            raise StoryFailed(f"the status did not reach {row['name']}'s row: {row['status_code']}")
        return "03"

    def arrived(self, clerk: str, notation: str) -> dict[str, Any]:
        def probe() -> dict[str, Any] | None:
            queue = self.call(clerk, "GET", "/api/v1/incoming/queues/to-register", params={"limit": 100})["items"]
            return next((d for d in queue if d["number_notation"] == notation), None)

        return self.wait(f"{notation} in {clerk}'s queue", probe)

    # --- the story ---------------------------------------------------------------------------------

    def run(self) -> None:
        province = self.org_id(PROVINCE)
        report: dict[str, Any] = {}
        incoming: dict[str, Any] = {}

        with self.step("1. Huyện Châu Thành soạn, ký số, cấp số, đóng dấu và gửi báo cáo lên tỉnh"):
            doc = self.draft("chauthanh.chuyenvien", "chauthanh.chutich", "Báo cáo kết quả công tác Hội tháng 11", [province])
            self.call("chauthanh.chuyenvien", "POST", f"/api/v1/outgoing/{doc['id']}/submit", json={})
            report = self.sign_and_issue(doc, "chauthanh.chutich", "chauthanh.vanthu")
            arrived = self.arrived("mai.tran", report["notation"])
            url = f"/api/v1/incoming/{arrived['id']}"

            def checked() -> dict[str, Any] | None:  # on arrival, by the document's workflow
                doc = self.call("mai.tran", "GET", url)
                pdfs = [f for f in doc["files"] if f["content_type"] == "application/pdf"]
                return doc if pdfs and all(f["signatures_ok"] is not None for f in pdfs) else None

            incoming = self.wait("the signatures checked on arrival", checked)
            if not all(f["signatures_ok"] for f in incoming["files"] if f["content_type"] == "application/pdf"):
                raise StoryFailed(f"signatures of {report['notation']} not checked valid on arrival: {incoming['files']}")

        with self.step("2. Tỉnh vào sổ, lãnh đạo bút phê, chuyên viên xử lý xong; huyện thấy từng trạng thái"):
            url = f"/api/v1/incoming/{incoming['id']}"
            metadata = {k: incoming[k] for k in ("issuer_name", "number_notation", "doc_type", "subject")}
            metadata["document_date"] = incoming["document_date"] or str(date.today())
            seen: list[str] = []

            def district_sees(code: str) -> Callable[[], bool]:
                def probe() -> bool:
                    sent = self.call("chauthanh.vanthu", "GET", f"/api/v1/outgoing/{report['id']}")
                    now = next((r["status_code"] for r in sent["recipients"] if r["organization_id"] == province), None)
                    if now and now not in seen:
                        seen.append(now)
                    return now == code

                return probe

            self.wait("status 01 (arrived) at the district", district_sees("01"))
            self.call("mai.tran", "POST", f"{url}/register", json={"metadata": metadata})
            self.wait("status 03 (received) at the district", district_sees("03"))
            lead = {"instruction": "Ban Tuyên giáo tổng hợp, tham mưu.", "lead_user_id": self.user_id("thu.le"), "due_working_days": 5}
            self.call("lan.nguyen", "POST", f"{url}/direct", json=lead)
            self.wait("status 04 (assigned) at the district", district_sees("04"))
            self.call("thu.le", "POST", f"{url}/progress", json={"body": "Đã tổng hợp số liệu."})
            self.wait("status 05 (in progress) at the district", district_sees("05"))
            done = self.call("thu.le", "POST", f"{url}/complete", json={"result": "Đã đưa vào báo cáo chung của tỉnh."})
            if done["status"] != "done":
                raise StoryFailed(f"incoming {incoming['id']} is {done['status']}, not done")
            self.wait("status 06 (done) at the district", district_sees("06"))
            self.note("văn bản đến", f"{done['arrival_label']} — {done['number_notation']}")
            self.out(f"   trạng thái huyện thấy: {' → '.join(seen)}")

        with self.step("3. Tỉnh soạn chỉ thị, góp ý, ký, phát hành tới mọi huyện; một bản đi bằng gói edXML"):
            directive = self.draft(
                "thu.le",
                "lan.nguyen",
                "Triển khai Tháng hành động vì bình đẳng giới",
                [],
                doc_type="KH",
                groups=["children"],
                external_recipients=[OUTSIDE.name],
            )
            url = f"/api/v1/outgoing/{directive['id']}"
            self.call("thu.le", "POST", f"{url}/submit", json={"reviewer_ids": [self.user_id("hanh.pham")]})
            self.call("hanh.pham", "POST", f"{url}/review", json={"decision": "initialled", "comment": "Đồng ý."})
            issued = self.sign_and_issue(directive, "lan.nguyen", "mai.tran")
            districts = [o for o in issued["recipients"] if o["organization_id"]]

            def delivered() -> bool:
                doc = self.call("mai.tran", "GET", url)
                return all(r["delivered_at"] for r in doc["recipients"] if r["organization_id"])

            self.wait("delivery to every district", delivered)
            self.arrived("chauthanh.vanthu", issued["notation"])
            self.out(f"   gửi tới {len(districts)} huyện, đã đến sổ của Châu Thành")
            code = self.edxml_round_trip(issued)
            self.out(f"   bản gửi {OUTSIDE.name} đi bằng gói edXML; hệ thống bên đó báo lại {code}")

        with self.step(
            "4. Họp trực tuyến với hai huyện: giấy mời, nhắc lịch, điểm danh, điều hành, phát biểu, biểu quyết, biên bản ký số, giao việc"
        ):
            self.meeting(province)

        with self.step("5. Tỉnh yêu cầu mọi xã báo cáo; hai xã nộp; tải bảng tổng hợp"):
            self.report_request(province)

        with self.step("6. Nhật ký kiểm tra toàn vẹn"):
            verified = self.call("dung.huynh", "GET", "/api/v1/audit/verify")
            if not verified["ok"]:
                raise StoryFailed(f"audit verify failed: {verified}")
            for what, url, who in self.signed_pdfs:
                pdf = self.as_(who).get(url)
                _check(pdf, f"download {what}")
                verdict = self.as_(who).post("/api/v1/signatures/verify", files={"file": (f"{what}.pdf", pdf.content, "application/pdf")})
                _check(verdict, f"verify {what}")
                if not verdict.json()["all_valid"]:
                    raise StoryFailed(f"the signatures of {what} do not verify: {verdict.text[:300]}")

        self.out("")
        self.out("Đã tạo / Made:")
        for kind, labels in self.made.items():
            for label in labels:
                self.out(f"  {kind}: {label}")
        total = sum(t for _, t in self.timings)
        self.out(f"Tổng thời gian / Total: {total:.1f} s")

    def meeting(self, province: int) -> None:
        chair, secretary, organiser = "lan.nguyen", "ngoc.vo", "mai.tran"
        members = ["thu.le", "hanh.pham"]
        # It starts in an hour (and a little): the hour-before reminder is due in seconds, so the
        # story sees it go out before the chair opens the meeting early.
        starts = datetime.now(VN).replace(microsecond=0) + timedelta(minutes=60, seconds=REMINDER_MARGIN_SECONDS)
        m = self.call(
            organiser,
            "POST",
            "/api/v1/meetings",
            json={
                "organization_id": province,
                "title": f"Hội nghị giao ban trực tuyến tháng 12 ({self.tag})",
                "chair_id": self.user_id(chair),
                "secretary_id": self.user_id(secretary),
                "starts_at": starts.isoformat(),
                "ends_at": (starts + timedelta(hours=2)).isoformat(),
                "mode": "online",
            },
        )
        url = f"/api/v1/meetings/{m['id']}"
        self.call(organiser, "POST", f"{url}/participants", json={"user_ids": [self.user_id(u) for u in members]})
        self.call(organiser, "POST", f"{url}/units", json={"org_ids": [self.org_id(DISTRICT), self.org_id("hlhpn-mocaynam")]})
        for title in ("Kết quả công tác Hội tháng 11", "Nhiệm vụ trọng tâm tháng 12"):
            m = self.call(organiser, "POST", f"{url}/items", json={"title": title, "planned_minutes": 30})
        self.call(organiser, "POST", f"{url}/schedule")
        # The giấy mời: drafted by the meeting's workflow, then the outgoing path like any document.
        gm = self.wait("the giấy mời drafted", lambda: self.call(organiser, "GET", url)["invitation_outgoing_id"])
        invitation = self.call(organiser, "POST", f"/api/v1/outgoing/{gm}/submit", json={})
        invitation = self.sign_and_issue(invitation, self.username_of(invitation["signer_id"], (chair, "hue.do")), organiser)
        self.arrived("chauthanh.vanthu", invitation["notation"])
        self.out(f"   giấy mời {invitation['notation']} đã phát hành, đến sổ của Châu Thành")
        self.wait(
            "the invitation in a member's notifications",
            lambda: any(
                f"/meetings/{m['id']}" in (n.get("link") or "") for n in self.call(members[0], "GET", "/api/v1/notifications")["items"]
            ),
        )
        for who in members:
            self.call(who, "POST", f"{url}/reply", json={"answer": "accept"})
        reminder = self.wait(
            "the hour-before reminder",
            lambda: next(
                (
                    n
                    for n in self.call(members[0], "GET", "/api/v1/notifications")["items"]
                    if n["kind"] == "meeting.reminder" and n["link"] == f"/meetings/{m['id']}"
                ),
                None,
            ),
        )
        self.out(f"   nhắc lịch: {reminder['title']}")

        self.call(chair, "POST", f"{url}/live/open")
        for who in [chair, secretary, *members]:  # from their phones
            self.call(who, "POST", f"{url}/live/checkin")
        live = self.call(organiser, "GET", url)
        for unit in live["units"]:  # the districts' meeting rooms, connected
            live = self.call(secretary, "POST", f"{url}/live/site", json={"unit_id": unit["id"], "present": True})
        if not live["quorum"]["met"]:
            raise StoryFailed(f"no quorum: {live['quorum']}")
        first = live["agenda"][0]["id"]
        self.call(chair, "POST", f"{url}/live/start-item", json={"item_id": first})
        asked = self.call(members[0], "POST", f"{url}/live/request-floor", json={"agenda_item_id": first, "note": "Báo cáo nhanh"})
        request_id = asked["live"]["speakers"]["queue"][0]["id"]
        self.call(chair, "POST", f"{url}/live/grant", json={"request_id": request_id})
        self.call(chair, "POST", f"{url}/live/end-floor", json={"request_id": request_id})
        polled = self.call(
            chair, "POST", f"{url}/live/open-poll", json={"question": "Thông qua nhiệm vụ trọng tâm tháng 12?", "agenda_item_id": first}
        )
        poll = polled["live"]["polls"][0]
        yes = poll["options"][0]["id"]
        for who in [chair, secretary, *members]:
            self.call(who, "POST", f"{url}/live/vote", json={"poll_id": poll["id"], "option_id": yes})
        closed = self.call(chair, "POST", f"{url}/live/close-poll", json={"poll_id": poll["id"]})
        result = closed["live"]["polls"][0]["result"]
        if not result["passed"]:
            raise StoryFailed(f"the vote did not pass: {result}")
        self.call(chair, "POST", f"{url}/live/end-item", json={"item_id": first})
        self.call(chair, "POST", f"{url}/live/close")
        self.out(f"   có mặt {live['quorum']['present']}, biểu quyết thông qua, bế mạc")

        minutes = self.call(secretary, "POST", f"{url}/minutes/start")
        murl = f"/api/v1/minutes/{minutes['id']}"
        text = {"opening": "Khai mạc lúc 8 giờ.", "items": {str(first): {"discussion": "Các huyện báo cáo.", "conclusion": "Thống nhất."}}}
        minutes = self.call(secretary, "POST", f"{murl}/save", json={"content": text}, headers={"if-match": minutes["etag"]})
        due = str(date.today() + timedelta(days=14))
        self.call(
            secretary,
            "POST",
            f"{murl}/tasks",
            json={
                "item_id": first,
                "title": "Tổng hợp kết quả tháng 12",
                "owner_kind": "user",
                "owner_id": self.user_id(members[0]),
                "due_date": due,
            },
        )
        self.note("nhiệm vụ", f"Tổng hợp kết quả tháng 12 — hạn {due}")
        self.call(secretary, "POST", f"{murl}/close", json={}, headers={"if-match": minutes["etag"]})
        for who in (secretary, chair):
            self.wait(f"the minutes' turn of {who}", partial(lambda signer: self.call(signer, "GET", murl)["my_turn"], who))
            self.call(who, "POST", f"{murl}/sign", json={"pin": DEMO_PIN}, headers={"idempotency-key": f"bb-{minutes['id']}-{who}"})
        done = self.wait("the minutes signed and sent", lambda: (d := self.call(secretary, "GET", murl))["status"] == "distributed" and d)
        self.signed_pdfs.append((done["notation"], done["files"]["signed_url"], secretary))
        self.note("cuộc họp", f"{m['title']} — biên bản {done['notation']}")

    def report_request(self, province: int) -> None:
        orgs = [o for o in self.call("lan.nguyen", "GET", "/api/v1/organizations") if o["level"] == "commune"]
        communes, names = {o["code"]: o["id"] for o in orgs}, {o["code"]: o["name"] for o in orgs}
        req = self.call(
            "lan.nguyen",
            "POST",
            "/api/v1/reports",
            data={
                "organization_id": str(province),
                "title": f"Báo cáo số hội viên mới quý IV ({self.tag})",
                "instructions": "Đề nghị các cơ sở Hội báo cáo theo mẫu.",
                "deadline_date": str(date.today() + timedelta(days=10)),
                "scope": "pick",
                "target_ids": [str(i) for i in communes.values()],
                "field_name": ["Số hội viên mới"],
                "field_unit": ["người"],
                "field_kind": ["integer"],
            },
        )
        url = f"/api/v1/reports/{req['id']}"
        letter = self.call("lan.nguyen", "GET", f"/api/v1/outgoing/{req['letter_outgoing_id']}")
        self.sign_and_issue(letter, "lan.nguyen", "mai.tran")  # the request opens when its letter is issued
        self.wait("the request open at its targets", lambda: self.call("lan.nguyen", "GET", url)["status"] == "open")
        answers = {"tanthach": 42, "ankhanh": 37}
        for commune, count in answers.items():
            officer, target = f"{commune}.chuyenvien", f"{url}/targets/{communes['hlhpn-' + commune]}"
            mine = self.wait(
                f"the request delivered to {commune}", lambda: (t := self.call(officer, "GET", target))["status"] == "delivered" and t
            )
            figures = {str(f["id"]): count for f in mine["fields"]}
            self.call(
                officer,
                "POST",
                f"{target}/submit",
                data={"note": "Đã tổng hợp.", "figures": json.dumps(figures)},
                files={
                    "file": (
                        f"bao-cao-{commune}.pdf",
                        demo_pdf(f"Báo cáo của {names['hlhpn-' + commune]}", f"{count} hội viên mới trong quý IV."),
                        "application/pdf",
                    )
                },
                headers={"if-match": mine["etag"]},
            )
        table = self.as_("lan.nguyen").get(f"/reports/{req['id']}/export.xlsx")
        _check(table, "download the consolidated table")
        if not table.content.startswith(b"PK"):
            raise StoryFailed("the consolidated table is not an XLSX file")
        progress = self.call("lan.nguyen", "GET", url)
        self.out(f"   {len(communes)} xã được yêu cầu, {len(answers)} xã đã nộp, bảng tổng hợp {len(table.content)} byte")
        self.note("yêu cầu báo cáo", f"{progress['notation']} — {progress['title']}")


def _check(answer: httpx.Response, what: str) -> None:
    if answer.status_code >= 400:
        try:
            detail = answer.json().get("detail") or answer.text
        except ValueError:
            detail = answer.text[:300]
        raise StoryFailed(f"{what} → {answer.status_code}: {detail}")


def main(base_url: str, wait_seconds: float = 180.0) -> int:
    try:
        Story(base_url.rstrip("/"), wait_seconds=wait_seconds).run()
    except StoryFailed:
        return 1
    except httpx.HTTPError as exc:
        print(f"✗ {base_url} does not answer: {exc}")
        return 2
    return 0
