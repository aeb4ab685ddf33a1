"""Report requests through the pages: create for all districts, a district officer submits and its
leader approves, another district sees only its own part, consolidated downloads add up."""

from __future__ import annotations

import csv
import io
import zipfile

from sqlalchemy import select

from services.directory.models import Organization
from services.reports.models import ReportTarget
from tests.helpers import csrf_of, sign_in, wait_for
from tests.reports.factory import issue_letter, own_workflow_ids, pydantic_client, worker_for
from tests.signing.conftest import make_tiny_pdf


async def _orgs(db) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with db.session() as session:
        return {o.code: o.id for o in (await session.scalars(select(Organization))).all()}


async def _delivered(db, rid: int) -> int:  # type: ignore[no-untyped-def]
    async with db.read() as session:
        return len(
            (
                await session.scalars(select(ReportTarget.id).where(ReportTarget.request_id == rid, ReportTarget.delivered_at.is_not(None)))
            ).all()
        )


async def test_request_to_districts_with_approval_and_private_parts(temporal_env, demo_db_sqlite, client_for, settings) -> None:
    client = pydantic_client(temporal_env.client)
    own_workflow_ids(settings)
    orgs = await _orgs(demo_db_sqlite)
    async with worker_for(client, settings, demo_db_sqlite):
        lan = await client_for(demo_db_sqlite, client)
        await sign_in(lan, "lan.nguyen")
        page = await lan.get("/reports/new")
        assert page.status_code == 200 and "Tạo yêu cầu báo cáo" in page.text
        token = await csrf_of(lan, "/reports/new")
        created = await lan.post(
            "/reports",
            data={
                "csrf_token": token,
                "organization_id": str(orgs["hlhpn-bentre"]),
                "title": "Báo cáo kết quả thực hiện Cuộc vận động xây dựng gia đình 5 không 3 sạch quý IV/2026",
                "instructions": "Báo cáo theo mẫu.",
                "deadline_date": "2099-12-31",
                "deadline_time": "17:00",
                "scope": "children",
                "requires_approval": "1",
                "field_name": ["Số hộ đạt 5 không 3 sạch", "Tỷ lệ hộ đạt"],
                "field_unit": ["hộ", "%"],
                "field_kind": ["integer", "percent"],
            },
            files={"template": ("mau-bao-cao.pdf", make_tiny_pdf("Mau"), "application/pdf")},
        )
        assert created.status_code == 303, created.text
        rid = int(created.headers["location"].split("/")[2].split("?")[0])
        # Nothing goes out before the letter is signed and issued: the page says so and links it.
        waiting = await lan.get(f"/reports/{rid}")
        assert "Chờ ban hành công văn" in waiting.text and "data-awaiting-letter" in waiting.text
        letter = int(waiting.text.split("data-awaiting-letter>")[1].split('href="/outgoing/')[1].split('"')[0])
        assert "Chưa có số" in waiting.text and await _delivered(demo_db_sqlite, rid) == 0
        await issue_letter(demo_db_sqlite, settings, rid)
        await wait_for(lambda: _all_delivered(demo_db_sqlite, rid, 3), timeout=240)
        opened = await lan.get(f"/reports/{rid}")
        assert "data-awaiting-letter" not in opened.text and f'href="/outgoing/{letter}"' in opened.text
        detail = await lan.get(f"/reports/{rid}")
        assert "0/3" in detail.text.replace('</strong>/<span data-num="total">', "/").replace("</span>", "")

        officer = await client_for(demo_db_sqlite, client)
        await sign_in(officer, "chauthanh.chuyenvien")
        own = f"/reports/{rid}/targets/{orgs['hlhpn-chauthanh']}"
        assert (await officer.get(own)).status_code == 200
        other = await officer.get(f"/reports/{rid}/targets/{orgs['hlhpn-tpbentre']}")
        assert other.status_code == 404, "a target sees only its own part"
        assert (await officer.get(f"/reports/{rid}/export.csv")).status_code == 404
        token = await csrf_of(officer, own)
        fields = await _field_ids(demo_db_sqlite, rid)
        sent = await officer.post(
            own + "/submit",
            data={"csrf_token": token, f"fig_{fields[0]}": "1.250", f"fig_{fields[1]}": "82,5"},
            files={"file": ("bao-cao.pdf", make_tiny_pdf("Bao cao"), "application/pdf")},
        )
        assert sent.status_code == 303 and "awaiting_approval" in sent.headers["location"]

        leader = await client_for(demo_db_sqlite, client)
        await sign_in(leader, "chauthanh.chutich")
        page = await leader.get(own)
        assert "Duyệt và gửi" in page.text
        sub_id = page.text.split('name="submission_id" value="')[1].split('"')[0]
        token = await csrf_of(leader, own)
        approved = await leader.post(own + "/decide", data={"csrf_token": token, "submission_id": sub_id, "decision": "approve"})
        assert approved.status_code == 303

        table = (await lan.get(f"/reports/{rid}/export.csv")).content.decode("utf-8-sig")
        rows = list(csv.reader(io.StringIO(table)))
        assert rows[-1][-2:] == ["1250", "82.50"], rows[-1]
        archive = zipfile.ZipFile(io.BytesIO((await lan.get(f"/reports/{rid}/export.zip")).content))
        names = archive.namelist()
        assert "tong-hop-so-lieu.xlsx" in names and any(n.startswith("bao-cao/") and n.endswith(".pdf") for n in names)
        assert "Đúng hạn" in (await lan.get(f"/reports/{rid}")).text


async def _all_delivered(db, rid: int, n: int) -> bool:  # type: ignore[no-untyped-def]
    return await _delivered(db, rid) >= n


async def _field_ids(db, rid: int) -> list[int]:  # type: ignore[no-untyped-def]
    from services.reports.models import ReportField

    async with db.session() as session:
        return list(
            (await session.scalars(select(ReportField.id).where(ReportField.request_id == rid).order_by(ReportField.position))).all()
        )
