"""Office files are checked by content before anything is stored or numbered: zip bombs, macros,
ActiveX, encryption, broken zips and lying names are refused with a clear message at every DOCX
entry point, while a valid DOCX with a long Vietnamese name is accepted."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from meetings.models import MeetingDocument
from services.calendar import vn_today
from services.config import Settings
from services.db import utcnow
from services.directory.models import Organization, User
from services.errors import InvalidInput
from services.incoming.models import IncomingDocument
from services.outgoing.models import OutgoingAttachment, OutgoingDocument
from services.registers import RegisterCounter
from services.reports.models import ReportRequest
from services.reports.service import check_report_file
from services.uploads import DOCX, PDF, OfficeLimits, check_upload
from tests.helpers import csrf_of, sign_in
from tests.hostile_files import LONG_VIETNAMESE_NAME, bomb_docx, hostile_office_files, macro_xlsx, says, valid_docx
from tests.reports.factory import issue_letter
from tests.signing.conftest import make_tiny_pdf
from web.i18n import to_vn


def test_office_limit_defaults_are_the_settings_defaults() -> None:
    assert OfficeLimits() == OfficeLimits.of(Settings(secret_key="x"))


@pytest.mark.parametrize("case", hostile_office_files(), ids=lambda case: case[0])
def test_hostile_office_files_are_refused_with_what_to_do(case) -> None:  # type: ignore[no-untyped-def]
    name, data, phrase = case
    for check in (
        lambda: check_upload(filename=name, data=data, allowed={PDF, DOCX}, max_bytes=25 * 1024 * 1024),
        lambda: check_report_file(filename=name, data=data, max_bytes=25 * 1024 * 1024),
    ):
        with pytest.raises(InvalidInput) as refused:
            check()
        assert says(refused.value.message, phrase) and refused.value.message_en


def test_ratio_and_size_limits_follow_the_settings() -> None:
    small_bomb = bomb_docx(30)  # ~30 KB inflating to 30 MB: under the size limit, ratio ~1000
    with pytest.raises(InvalidInput, match="abnormally compressed"):
        check_upload(filename="a.docx", data=small_bomb, allowed={DOCX}, max_bytes=10**7)
    loose = OfficeLimits(max_unpacked_bytes=64 * 1024 * 1024, max_ratio=5000)
    assert check_upload(filename="a.docx", data=small_bomb, allowed={DOCX}, max_bytes=10**7, office=loose).content_type == DOCX
    with pytest.raises(InvalidInput, match="limit 16 MB"):
        check_upload(
            filename="a.docx",
            data=small_bomb,
            allowed={DOCX},
            max_bytes=10**7,
            office=OfficeLimits(max_unpacked_bytes=16 * 1024 * 1024, max_ratio=5000),
        )
    with pytest.raises(InvalidInput, match="macros"):
        check_report_file(filename="so-lieu.xlsx", data=macro_xlsx(), max_bytes=10**7)


def test_valid_docx_with_a_long_vietnamese_name_keeps_its_extension() -> None:
    checked = check_upload(filename=LONG_VIETNAMESE_NAME, data=valid_docx(), allowed={DOCX}, max_bytes=10**7)
    assert checked.content_type == DOCX and checked.filename.endswith(".docx") and len(checked.filename) <= 200
    assert checked.filename.startswith("Báo cáo tổng kết công tác Hội")


# --- every entry point over HTTP ------------------------------------------------------------------


async def _count(database, model) -> int:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


def _blobs(settings) -> set:  # type: ignore[no-untyped-def]
    root = settings.data_dir / "blobs"
    return {p for p in root.rglob("*") if p.is_file()} if root.exists() else set()


async def _ids(database):  # type: ignore[no-untyped-def]
    async with database.session() as session:
        users = {u.username: u.id for u in (await session.scalars(select(User))).all()}
        orgs = {o.code: o.id for o in (await session.scalars(select(Organization))).all()}
    return users, orgs


async def _refused_everywhere(post, database, settings, counted) -> None:  # type: ignore[no-untyped-def]
    """`post(name, data)` sends one file; every hostile one gets 422 and nothing changes."""
    before = _blobs(settings), [await _count(database, model) for model in counted]
    for name, data, phrase in hostile_office_files():
        response = await post(name, data)
        assert response.status_code == 422, (name, response.status_code)
        assert says(response.text, phrase), (name, re.findall(r"Tệp[^<]*", response.text))
        assert "Traceback" not in response.text
    assert (_blobs(settings), [await _count(database, model) for model in counted]) == before


async def test_incoming_registration_refuses_hostile_office_files_without_taking_a_number(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    users, orgs = await _ids(db)
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    token = await csrf_of(clerk, "/incoming/new")
    form = {
        "csrf_token": token,
        "organization_id": str(orgs["hlhpn-bentre"]),
        "issuer_name": "Sở Tư pháp",
        "number_notation": "11/CV-STP",
        "document_date": (vn_today() - timedelta(days=1)).isoformat(),
        "doc_type": "CV",
        "subject": "Về việc phổ biến pháp luật",
        "urgency": "normal",
        "secrecy": "normal",
        "arrival_date": vn_today().isoformat(),
    }

    async def post(name: str, data: bytes):  # type: ignore[no-untyped-def]
        return await clerk.post(
            "/incoming",
            data=form,
            files=[("files", ("cong-van.pdf", make_tiny_pdf(), "application/pdf")), ("files", (name, data, "application/octet-stream"))],
        )

    await _refused_everywhere(post, db, settings, [IncomingDocument, RegisterCounter])
    ok = await post(LONG_VIETNAMESE_NAME, valid_docx())
    assert ok.status_code == 303, ok.text[:1000]
    page = await clerk.get(ok.headers["location"])
    assert "Báo cáo tổng kết công tác Hội" in page.text


async def test_outgoing_drafts_and_attachments_refuse_hostile_office_files(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    users, _ = await _ids(db)
    officer = await client_for(db)
    await sign_in(officer, "thu.le")
    token = await csrf_of(officer, "/outgoing/new")
    form = {
        "csrf_token": token,
        "doc_type": "CV",
        "subject": "Về việc tổ chức tập huấn cán bộ Hội cơ sở",
        "body": "Kính gửi các huyện, thành phố.",
        "signer_id": str(users["lan.nguyen"]),
        "urgency": "normal",
        "secrecy": "normal",
        "groups": "district",
    }
    empty = ("", b"", "application/octet-stream")

    async def as_draft(name: str, data: bytes):  # type: ignore[no-untyped-def]
        return await officer.post("/outgoing", data=form, files=[("docx", (name, data, "application/octet-stream"))])

    async def as_new_attachment(name: str, data: bytes):  # type: ignore[no-untyped-def]
        return await officer.post("/outgoing", data=form, files=[("docx", empty), ("files", (name, data, "application/octet-stream"))])

    await _refused_everywhere(as_draft, db, settings, [OutgoingDocument])
    await _refused_everywhere(as_new_attachment, db, settings, [OutgoingDocument])
    created = await officer.post("/outgoing", data=form, files=[("docx", empty)])
    assert created.status_code == 303, created.text[:1000]
    doc_id = int(created.headers["location"].split("/")[2].split("?")[0])

    async def attach(name: str, data: bytes):  # type: ignore[no-untyped-def]
        return await officer.post(
            f"/outgoing/{doc_id}/attachments", data={"csrf_token": token}, files=[("files", (name, data, "application/octet-stream"))]
        )

    async def edit(name: str, data: bytes):  # type: ignore[no-untyped-def]
        return await officer.post(f"/outgoing/{doc_id}/edit", data=form, files=[("docx", (name, data, "application/octet-stream"))])

    await _refused_everywhere(attach, db, settings, [OutgoingAttachment])
    await _refused_everywhere(edit, db, settings, [OutgoingAttachment])
    ok = await attach(LONG_VIETNAMESE_NAME, valid_docx())
    assert ok.status_code == 303, ok.text[:1000]
    assert await _count(db, OutgoingAttachment) == 1


async def test_meeting_documents_refuse_hostile_office_files(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    users, orgs = await _ids(db)
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    csrf = await csrf_of(clerk, "/meetings/new")
    start = to_vn(utcnow() + timedelta(days=2))
    created = await clerk.post(
        "/meetings",
        data={
            "csrf_token": csrf,
            "organization_id": str(orgs["hlhpn-bentre"]),
            "title": "Hội nghị giao ban quý",
            "chair_id": str(users["lan.nguyen"]),
            "secretary_id": str(users["ngoc.vo"]),
            "starts_at": start.strftime("%Y-%m-%dT%H:%M"),
            "ends_at": (start + timedelta(hours=2)).strftime("%Y-%m-%dT%H:%M"),
            "mode": "online",
            "place": "",
        },
    )
    assert created.status_code == 303, created.text[:1000]
    mid = int(re.search(r"/meetings/(\d+)", created.headers["location"]).group(1))  # type: ignore[union-attr]

    async def post(name: str, data: bytes):  # type: ignore[no-untyped-def]
        return await clerk.post(
            f"/meetings/{mid}/documents", data={"csrf_token": csrf, "title": ""}, files={"file": (name, data, "application/octet-stream")}
        )

    await _refused_everywhere(post, db, settings, [MeetingDocument])
    ok = await post(LONG_VIETNAMESE_NAME, valid_docx())
    assert ok.status_code == 303, ok.text[:1000]
    assert await _count(db, MeetingDocument) == 1


async def test_report_templates_and_submissions_refuse_hostile_office_files(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    _, orgs = await _ids(db)
    leader = await client_for(db)
    await sign_in(leader, "lan.nguyen")
    token = await csrf_of(leader, "/reports/new")
    form = {
        "csrf_token": token,
        "organization_id": str(orgs["hlhpn-bentre"]),
        "title": "Báo cáo nhanh số hội viên",
        "instructions": "Theo mẫu.",
        "deadline_date": "2099-12-31",
        "deadline_time": "17:00",
        "scope": "children",
        "field_name": ["Số hội viên"],
        "field_unit": ["người"],
        "field_kind": ["integer"],
    }

    async def template(name: str, data: bytes):  # type: ignore[no-untyped-def]
        return await leader.post("/reports", data=form, files={"template": (name, data, "application/octet-stream")})

    await _refused_everywhere(template, db, settings, [ReportRequest])
    created = await template(LONG_VIETNAMESE_NAME, valid_docx())
    assert created.status_code == 303, created.text[:1000]
    rid = int(created.headers["location"].split("/")[2].split("?")[0])
    await issue_letter(db, settings, rid)

    officer = await client_for(db)
    await sign_in(officer, "chauthanh.chuyenvien")
    own = f"/reports/{rid}/targets/{orgs['hlhpn-chauthanh']}"
    csrf = await csrf_of(officer, "/")

    async def submission(name: str, data: bytes):  # type: ignore[no-untyped-def]
        return await officer.post(own + "/submit", data={"csrf_token": csrf}, files={"file": (name, data, "application/octet-stream")})

    await _refused_everywhere(submission, db, settings, [ReportRequest])
