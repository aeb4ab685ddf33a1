"""The audit pages in people's words: objects by number/notation and subject, translated actions,
details as fields, search by number/notation, a trail link on the document page, and an object of
another organisation answering 404 to an auditor outside its scope."""

from __future__ import annotations

import re

from sqlalchemy import select

from services.audit.service import Actor, record
from services.directory.models import Organization, User
from tests.helpers import post_form, sign_in
from tests.incoming.conftest import register


def _table(html: str) -> str:
    return html.split("<tbody>")[1].split("</tbody>")[0]


async def test_the_trail_names_documents_actions_and_details_in_peoples_words(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    doc = await register(db, settings, notation="77/KH-UBND", subject="Kế hoạch chuyển đổi số năm 2027")
    other = await register(db, settings, notation="78/TB-UBND", subject="Thông báo lịch trực")
    auditor = await client_for(db)
    await sign_in(auditor, "dung.huynh")  # the province's auditor
    table = _table((await auditor.get("/audit")).text)
    assert "77/KH-UBND — Kế hoạch chuyển đổi số năm 2027" in table and "Văn bản đến" in table
    assert "Vào sổ văn bản đến" in table or "vào sổ" in table.lower()
    for raw in ("incoming.register", "auth.login", "action.", "incoming 7", '{"', "&#34;"):
        assert raw not in table, raw  # no internal codes, no JSON
    assert re.search(r"<dt>Số, ký hiệu</dt><dd>77/KH-UBND</dd>", table)  # details as labelled fields
    found = _table((await auditor.get("/audit", params={"notation": "77/kh"})).text)
    assert "77/KH-UBND" in found and "78/TB-UBND" not in found
    assert f"/audit/object/incoming/{other.id}" not in found
    timeline = await auditor.get(f"/audit/object/incoming/{doc.id}")
    assert timeline.status_code == 200 and "77/KH-UBND — Kế hoạch chuyển đổi số năm 2027" in timeline.text
    page = await auditor.get(f"/incoming/{doc.id}")
    assert f'href="/audit/object/incoming/{doc.id}">Lịch sử</a>' in page.text
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")  # not an auditor: no link to a trail they may not open
    assert "/audit/object/" not in (await clerk.get(f"/incoming/{doc.id}")).text


async def test_the_trail_names_the_systems_own_processes_and_labels_every_detail(demo_db_sqlite, client_for) -> None:
    """Processes of the system read as "Hệ thống (…)", a sign-in attempt as the name typed, and
    details by their label with changes as "old → new", in each page language."""
    db = demo_db_sqlite
    async with db.session() as session:
        province = await session.scalar(select(Organization.id).where(Organization.code == "hlhpn-bentre"))
        entry = {"object_type": "organization", "object_id": province, "organization_id": province}
        await record(
            session,
            actor=Actor.system("outgoing-workflow"),
            action="org.update",
            details={"abbreviation": {"from": "HLHPN", "to": "HPN"}},
            **entry,
        )
        await record(
            session, actor=Actor.system("night-sweeper"), action="org.update", details={"parent_body": "HỘI LHPN VIỆT NAM"}, **entry
        )
        await record(
            session,
            actor=Actor(user_id=None, name="outgoing-workflow", ip="10.9.9.9"),
            action="auth.login_throttled",
            details={"retry_after_seconds": 30},
            **entry,
        )
    auditor = await client_for(db)
    await sign_in(auditor, "dung.huynh")
    for page in ("/audit", f"/audit/object/organization/{province}"):
        html = (await auditor.get(page)).text
        assert "Hệ thống (quy trình văn bản đi)" in html and "Hệ thống (night-sweeper)" in html, page
        assert "outgoing-workflow (chưa đăng nhập)" in html, page  # a typed name is not the system
        assert ">outgoing-workflow<" not in html and ">night-sweeper<" not in html, page
        assert re.search(r"<dt>Tên viết tắt</dt>\s*<dd>HLHPN → HPN</dd>", html), page
        assert re.search(r"<dt>Chờ thử lại \(giây\)</dt>\s*<dd>30</dd>", html), page
        for raw in ("abbreviation", "parent_body", "retry_after_seconds", "from:", "Retry after seconds"):
            assert raw not in html, (page, raw)
    auditor.cookies.set("lt_lang", "en")
    html = (await auditor.get("/audit")).text
    assert "System (outgoing document workflow)" in html and "System (night-sweeper)" in html
    assert "<dt>Parent body line</dt>" in html and "Hệ thống" not in html


async def test_an_object_of_another_organisation_is_404_to_an_auditor_outside_its_scope(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    province_doc = await register(db, settings, notation="79/KH-UBND")
    district_doc = await register(db, settings, notation="80/KH-UBND", clerk="mocaynam.vanthu", org="hlhpn-mocaynam")
    async with db.session() as session:
        district = await session.scalar(select(Organization.id).where(Organization.code == "hlhpn-mocaynam"))
        officer = await session.scalar(select(User.id).where(User.username == "mocaynam.chuyenvien"))
    root = await client_for(db)
    await sign_in(root, "quantri")
    await post_form(root, f"/admin/users/{officer}/roles", {"role": "auditor", "organization_id": str(district)}, page="/admin")
    auditor = await client_for(db)
    await sign_in(auditor, "mocaynam.chuyenvien")
    assert (await auditor.get(f"/audit/object/incoming/{district_doc.id}")).status_code == 200
    assert (await auditor.get(f"/audit/object/incoming/{province_doc.id}")).status_code == 404
    assert (await auditor.get("/audit/object/incoming/999999")).status_code == 404  # nothing of that name
    found = _table((await auditor.get("/audit", params={"notation": "79/KH"})).text)
    assert "79/KH-UBND" not in found  # the search stays in the auditor's scope too


async def test_an_auditor_checks_the_signatures_of_a_pdf_from_the_audit_page(demo_db_sqlite, client_for) -> None:
    """Auditors have no signing page: the check of a PDF's signatures sits on the audit page."""
    from tests.helpers import csrf_of
    from tests.signing.conftest import make_tiny_pdf

    auditor = await client_for(demo_db_sqlite)
    await sign_in(auditor, "dung.huynh")
    page = (await auditor.get("/audit")).text
    assert 'action="/signing/verify"' in page and "Kiểm tra chữ ký" in page
    token = await csrf_of(auditor, "/audit")
    checked = await auditor.post(
        "/signing/verify", data={"csrf_token": token}, files={"file": ("cong-van.pdf", make_tiny_pdf("Cong van"), "application/pdf")}
    )
    assert checked.status_code == 200 and "cong-van.pdf" in checked.text
