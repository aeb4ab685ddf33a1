"""Report requests over /api/v1, driven as integrators' scripts would: a province asks its
districts for figures, a district's officer hands in a report that its leader approves, the
province follows, extends and closes; idempotent retries, stale ETags (409), files checked by
content, problem details (issue 17)."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta

from sqlalchemy import func, select

from services.calendar import vn_today
from services.directory.models import Organization, User
from services.reports import service as reports
from services.reports.models import ReportRequest
from tests.api.test_incoming_api import PROBLEM, _bearer
from tests.reports.factory import issue_letter
from tests.signing.conftest import make_tiny_pdf


async def _orgs(database) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        return {o.code: o.id for o in (await session.scalars(select(Organization))).all()}


async def _count(database) -> int:  # type: ignore[no-untyped-def]
    async with database.read() as session:
        return await session.scalar(select(func.count()).select_from(ReportRequest))


def _new(orgs: dict[str, int]) -> dict[str, object]:
    return {
        "organization_id": str(orgs["hlhpn-bentre"]),
        "title": "Báo cáo kết quả phong trào phụ nữ tích cực học tập quý IV/2026",
        "instructions": "Đề nghị các huyện báo cáo theo mẫu.",
        "deadline_date": str(vn_today() + timedelta(days=20)),
        "scope": "pick",
        "target_ids": [str(orgs["hlhpn-chauthanh"]), str(orgs["hlhpn-tpbentre"])],
        "requires_approval": "true",
        "field_name": ["Số hội viên", "Tỷ lệ tham gia"],
        "field_unit": ["người", "%"],
        "field_kind": ["integer", "percent"],
    }


async def test_a_request_goes_out_is_answered_approved_extended_and_closed(demo_db_sqlite, client_for, settings) -> None:
    api = await client_for(demo_db_sqlite)
    province, officer, chief = [await _bearer(demo_db_sqlite, u) for u in ("lan.nguyen", "chauthanh.chuyenvien", "chauthanh.chutich")]
    orgs = await _orgs(demo_db_sqlite)
    district, city = orgs["hlhpn-chauthanh"], orgs["hlhpn-tpbentre"]
    before = await _count(demo_db_sqlite)

    # A retried creation (same Idempotency-Key) makes one request.
    key = {"idempotency-key": str(uuid.uuid4())}
    template = [("template", ("mau.pdf", make_tiny_pdf("Mau bao cao"), "application/pdf"))]
    created = await api.post("/api/v1/reports", headers={**province, **key}, data=_new(orgs), files=template)
    again = await api.post("/api/v1/reports", headers={**province, **key}, data=_new(orgs), files=template)
    assert created.status_code == again.status_code == 201, created.text
    req = created.json()
    assert again.headers["idempotent-replayed"] == "true" and again.json()["id"] == req["id"]
    assert created.headers["location"] == f"/api/v1/reports/{req['id']}" and await _count(demo_db_sqlite) == before + 1
    assert (
        req["status"] == "awaiting_letter"
        and req["template_url"]
        and [f["name"] for f in req["fields"]] == ["Số hội viên", "Tỷ lệ tham gia"]
    )
    assert {t["organization_id"] for t in req["targets"]} == {district, city}
    rid, (members, share) = req["id"], [f["id"] for f in req["fields"]]
    assert rid in [r["id"] for r in (await api.get("/api/v1/reports", headers=province)).json()["items"]]

    # The letter is signed and issued (outgoing documents); the workflow delivers it to the district.
    await issue_letter(demo_db_sqlite, settings, rid)
    async with demo_db_sqlite.session() as session:
        await reports.deliver(session, settings=settings, request_id=rid, organization_id=district)
    received = (await api.get("/api/v1/reports/received", headers=officer)).json()
    mine = next(i for i in received["items"] if i["request_id"] == rid)
    assert mine["target"]["organization_id"] == district and mine["target"]["status"] == "delivered"
    part = await api.get(mine["target"]["url"], headers=officer)
    assert part.status_code == 200 and part.headers["etag"] == part.json()["etag"] == mine["target"]["etag"]
    assert part.json()["can_submit"] and not part.json()["can_decide"]
    # The province's request page is not the district's to read.
    assert (await api.get(f"/api/v1/reports/{rid}", headers=officer)).status_code == 404

    # The officer hands in the report: it waits for the district's leader.
    report = {"note": "Số liệu đến 30/11.", "figures": json.dumps({str(members): 1250, str(share): "87,5"})}
    upload = [("file", ("bao-cao.pdf", make_tiny_pdf("Bao cao Chau Thanh"), "application/pdf"))]
    handed = await api.post(
        mine["target"]["url"] + "/submit", headers={**officer, "if-match": part.headers["etag"]}, data=report, files=upload
    )
    assert handed.status_code == 200, handed.text
    sub = handed.json()["submissions"][0]
    assert handed.json()["status"] == "awaiting_approval" and sub["status"] == "awaiting_approval" and sub["download_url"]
    assert sub["figures"][str(members)] == "1250" and handed.headers["etag"] != part.headers["etag"]
    # Sent again on the old read, it is refused: nothing changed.
    stale = await api.post(
        mine["target"]["url"] + "/submit", headers={**officer, "if-match": part.headers["etag"]}, data=report, files=upload
    )
    assert stale.status_code == 409 and stale.headers["content-type"] == PROBLEM
    assert len((await api.get(mine["target"]["url"], headers=officer)).json()["submissions"]) == 1

    decided = await api.post(
        mine["target"]["url"] + "/decide",
        headers={**chief, "if-match": handed.headers["etag"], "idempotency-key": str(uuid.uuid4())},
        json={"submission_id": sub["id"], "decision": "approve"},
    )
    assert decided.status_code == 200, decided.text
    assert decided.json()["status"] == "submitted" and decided.json()["state"] == "on_time"
    async with demo_db_sqlite.read() as session:
        officer_id = await session.scalar(select(User.id).where(User.username == "chauthanh.chuyenvien"))
    named = await api.post(mine["target"]["url"] + "/assign", headers=chief, json={"user_id": officer_id})
    assert named.status_code == 200 and named.json()["assignee_id"] == officer_id

    # The province follows, extends the city's deadline, then closes: the city is missing.
    followed = (await api.get(f"/api/v1/reports/{rid}", headers=province)).json()
    assert followed["status"] == "open" and followed["progress"]["submitted"] == 1 and followed["can_manage"]
    due = vn_today() + timedelta(days=40)
    extended = await api.post(
        f"/api/v1/reports/{rid}/extend", headers=province, json={"deadline_date": str(due), "organization_id": city, "reason": "Lũ lụt."}
    )
    assert extended.status_code == 200, extended.text
    city_row = next(t for t in extended.json()["targets"] if t["organization_id"] == city)
    assert city_row["deadline"] > next(t for t in followed["targets"] if t["organization_id"] == city)["deadline"]
    closed = await api.post(f"/api/v1/reports/{rid}/close", headers=province, json={"reason": "Đủ số liệu tổng hợp."})
    assert closed.status_code == 200 and closed.json()["status"] == "closed"
    assert {t["organization_id"]: t["state"] for t in closed.json()["targets"]} == {district: "on_time", city: "missing"}
    late = await api.post(mine["target"]["url"] + "/submit", headers=officer, data=report)
    assert late.status_code == 409 and late.headers["content-type"] == PROBLEM


async def test_bad_files_and_input_are_refused_with_problem_details(demo_db_sqlite, client_for, settings) -> None:
    api = await client_for(demo_db_sqlite)
    province, officer = await _bearer(demo_db_sqlite, "lan.nguyen"), await _bearer(demo_db_sqlite, "chauthanh.chuyenvien")
    orgs = await _orgs(demo_db_sqlite)
    before = await _count(demo_db_sqlite)

    # A file is judged by its content, not by its name.
    fake = [("template", ("mau.pdf", b"MZ\x90\x00 not a document", "application/pdf"))]
    refused = await api.post("/api/v1/reports", headers=province, data=_new(orgs), files=fake)
    assert refused.status_code == 422 and refused.headers["content-type"] == PROBLEM and refused.json()["detail_en"]
    no_title = await api.post("/api/v1/reports", headers=province, data={**_new(orgs), "title": " "})
    assert no_title.status_code == 422 and no_title.json()["detail_vi"] != no_title.json()["detail_en"]
    wrong_kind = await api.post("/api/v1/reports", headers=province, data={**_new(orgs), "field_kind": ["integer", "phần trăm"]})
    assert wrong_kind.status_code == 422 and wrong_kind.headers["content-type"] == PROBLEM
    # Only an organisation with levels below requests reports.
    assert (await api.post("/api/v1/reports", headers=officer, data=_new(orgs))).status_code == 404
    assert await _count(demo_db_sqlite) == before

    rid = (await api.post("/api/v1/reports", headers=province, data=_new(orgs))).json()["id"]
    await issue_letter(demo_db_sqlite, settings, rid)
    url = f"/api/v1/reports/{rid}/targets/{orgs['hlhpn-chauthanh']}"
    bad_json = await api.post(url + "/submit", headers=officer, data={"figures": "{not json"})
    assert bad_json.status_code == 422 and bad_json.headers["content-type"] == PROBLEM and "figures" in bad_json.json()["detail"]
    exe = [("file", ("bao-cao.pdf", b"MZ\x90\x00 not a document", "application/pdf"))]
    bad_file = await api.post(url + "/submit", headers=officer, data={"figures": "{}"}, files=exe)
    assert bad_file.status_code == 422 and bad_file.headers["content-type"] == PROBLEM
    assert (await api.get(url, headers=officer)).json()["submissions"] == []
    other = f"/api/v1/reports/{rid}/targets/{orgs['hlhpn-tpbentre']}"
    assert (await api.get(other, headers=officer)).status_code == 404, "a target sees only its own part"
