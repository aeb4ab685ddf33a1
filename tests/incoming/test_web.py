"""The incoming pages: registration with uploads (bad ones refused with nothing stored), queues,
the document page, permissions across organisations, register and statistics, holidays."""

from __future__ import annotations

import io
import zipfile
from datetime import timedelta

from sqlalchemy import func, select

from services.calendar import vn_today
from services.incoming.models import IncomingDocument
from tests.helpers import csrf_of, post_form, sign_in
from tests.incoming.conftest import direct_to, org_id, register
from tests.signing.conftest import make_tiny_pdf


def _form(org: int, notation: str = "07/CV-SLĐTBXH") -> dict[str, str]:
    return {
        "organization_id": str(org),
        "issuer_name": "Sở Lao động - Thương binh và Xã hội",
        "number_notation": notation,
        "document_date": (vn_today() - timedelta(days=1)).isoformat(),
        "doc_type": "CV",
        "subject": "Về việc phối hợp tuyên truyền phòng, chống bạo lực gia đình",
        "urgency": "urgent",
        "secrecy": "normal",
        "arrival_date": vn_today().isoformat(),
    }


async def _rows(database) -> int:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        return await session.scalar(select(func.count()).select_from(IncomingDocument)) or 0


def _blobs(settings) -> list:  # type: ignore[no-untyped-def]
    root = settings.data_dir / "blobs"
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


async def test_clerk_registers_from_the_page_and_bad_uploads_store_nothing(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    settings.upload_max_bytes = 200_000
    client = await client_for(db)
    await sign_in(client, "mai.tran")
    assert (await client.get("/incoming/new")).status_code == 200
    province = await org_id(db, "hlhpn-bentre")
    token = await csrf_of(client, "/incoming/new")
    broken = make_tiny_pdf()[:200]
    docx = io.BytesIO()
    with zipfile.ZipFile(docx, "w") as archive:
        archive.writestr("word/document.xml", "<w:document/>")
    cases = [
        ("empty.pdf", b"", "rỗng"),
        ("virus.pdf", b"MZ\x90\x00 not a pdf at all", "không đúng định dạng"),
        ("big.pdf", b"%PDF-1.7\n" + b"0" * 210_000, "quá lớn"),
        ("hong.pdf", broken, "Tệp không phải PDF hợp lệ"),
    ]
    for name, data, message in cases:
        response = await client.post(
            "/incoming",
            data={**_form(province), "csrf_token": token},
            files=[("files", ("main.pdf", make_tiny_pdf(), "application/pdf")), ("files", (name, data, "application/pdf"))],
        )
        assert response.status_code == 422, name
        assert message in response.text, name
    assert await _rows(db) == 0 and _blobs(settings) == []
    ok = await client.post(
        "/incoming",
        data={**_form(province), "csrf_token": token},
        files=[
            ("files", ("cong-van.pdf", make_tiny_pdf(), "application/pdf")),
            ("files", ("phu-luc.docx", docx.getvalue(), "application/octet-stream")),
        ],
    )
    assert ok.status_code == 303, ok.text[:2000]
    page = await client.get(ok.headers["location"])
    assert page.status_code == 200 and "Về việc phối hợp tuyên truyền" in page.text and "Chờ bút phê" in page.text
    assert "Khẩn" in page.text
    # The viewer shows the PDF's pages as images, which every browser (phones too) can display.
    image = page.text.split('class="pdf-pages"')[1].split('src="')[1].split('"')[0]
    assert image.endswith("/pages/1.png") and "1 trang" in page.text
    png = await client.get(image)
    assert png.status_code == 200 and png.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert (await client.get(image.replace("/pages/1.png", "/pages/2.png"))).status_code == 404
    # The same document again: the check endpoint and the form both show the duplicate first.
    check = await client.get(
        "/incoming/check-duplicate",
        params={
            "org_id": province,
            "number_notation": "07/CV-SLĐTBXH",
            "document_date": _form(province)["document_date"],
            "issuer_name": "Sở Lao động - Thương binh và Xã hội",
        },
        headers={"accept": "application/json"},
    )
    assert len(check.json()["duplicates"]) == 1
    again = await client.post(
        "/incoming", data={**_form(province), "csrf_token": token}, files=[("files", ("cong-van.pdf", make_tiny_pdf(), "application/pdf"))]
    )
    assert again.status_code == 409 and "Có thể trùng" in again.text
    assert await _rows(db) == 1
    doc_url = ok.headers["location"].split("?")[0]
    file_link = image.split("/files/")[1].split("/")[0]
    pdf = await client.get(f"{doc_url}/files/{file_link}")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"
    assert pdf.headers["content-disposition"].startswith("inline")


async def test_other_organisations_and_roles_get_404_or_403(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    doc = await register(db, settings)
    await direct_to(db, doc.id, lead="thu.le")
    outsider = await client_for(db)
    await sign_in(outsider, "chauthanh.chutich")
    for path in (f"/incoming/{doc.id}", f"/incoming/{doc.id}/files/1", f"/incoming/{doc.id}/files/1/pages/1.png"):
        response = await outsider.get(path)
        assert response.status_code == 404 and "Tuyên truyền" not in response.text
    response = await post_form(outsider, f"/incoming/{doc.id}/direct", {"instruction": "x", "lead": "user:1"})
    assert response.status_code == 404
    assert "Tháng hành động" not in (await outsider.get("/incoming/search?q=th")).text
    officer = await client_for(db)
    await sign_in(officer, "hanh.pham")
    assert (await officer.get(f"/incoming/{doc.id}")).status_code == 404
    assert (await officer.get("/incoming/new")).status_code == 403
    assert (await officer.get("/incoming/to-direct")).status_code == 403
    lead = await client_for(db)
    await sign_in(lead, "thu.le")
    tasks = await lead.get("/incoming/tasks")
    assert "Tháng hành động vì bình đẳng giới" in tasks.text
    done = await post_form(lead, f"/incoming/{doc.id}/complete", {"result": "Đã triển khai."}, page=f"/incoming/{doc.id}")
    assert done.status_code == 303
    assert "Đã hoàn thành" in (await lead.get(f"/incoming/{doc.id}")).text


async def test_leader_directs_from_the_page_and_lists_register_stats_render(demo_db_sqlite, client_for, settings) -> None:
    db = demo_db_sqlite
    doc = await register(db, settings, secrecy="secret")
    leader = await client_for(db)
    await sign_in(leader, "lan.nguyen")
    queue = await leader.get("/incoming/to-direct")
    assert "Chờ bút phê" in queue.text and "Mật" in queue.text
    home = await leader.get("/")  # the home page says what waits, and links to it
    assert 'href="/incoming/to-direct">Văn bản đến chờ bạn bút phê' in home.text
    page = await leader.get(f"/incoming/{doc.id}")
    unit = page.text.split('value="unit:')[1].split('"')[0]
    person = page.text.split('value="user:')[1].split('"')[0]
    response = await post_form(
        leader,
        f"/incoming/{doc.id}/direct",
        {"instruction": "Ban chủ trì tham mưu.", "lead": f"user:{person}", "due_days": "5"},
        page=f"/incoming/{doc.id}",
    )
    assert response.status_code == 303, response.text[:500]
    assert unit.isdigit()
    clerk = await client_for(db)
    await sign_in(clerk, "mai.tran")
    book = await clerk.get(f"/incoming/book?series=mat&year={vn_today().year}")
    assert book.status_code == 200 and "Tháng hành động" in book.text
    docx = await clerk.get(f"/incoming/book?series=mat&year={vn_today().year}&format=docx")
    assert docx.status_code == 200 and docx.content[:2] == b"PK", docx.text[-3000:]
    for path in ("/incoming/stats", "/incoming/search?status=directed", "/incoming/done", "/incoming/to-register", "/"):
        assert (await clerk.get(path)).status_code == 200, path
    admin = await client_for(db)
    await sign_in(admin, "quantri")
    holidays = await admin.get("/admin/holidays?year=2026")
    assert "Quốc khánh" in holidays.text
    added = await post_form(admin, "/admin/holidays", {"day": "2026-11-20", "name": "Ngày Nhà giáo (thử)"}, page="/admin/holidays")
    assert added.status_code == 303


async def test_co_handler_lists_leave_out_the_administrator_and_oneself(demo_db_sqlite, client_for, settings) -> None:
    import re

    import pytest

    from services.errors import InvalidInput
    from tests.incoming.conftest import user_id

    db = demo_db_sqlite
    doc = await register(db, settings, notation="31/KH-UBND")
    leader = await client_for(db)
    await sign_in(leader, "lan.nguyen")
    page = (await leader.get(f"/incoming/{doc.id}")).text
    co_ids = set(re.findall(r'name="co_users" value="(\d+)"', page))
    info_ids = set(re.findall(r'name="info_users" value="(\d+)"', page))
    admin, me, officer = [str(await user_id(db, u)) for u in ("quantri", "lan.nguyen", "thu.le")]
    assert officer in co_ids and officer in info_ids
    assert admin not in co_ids | info_ids and me not in co_ids | info_ids
    assert admin not in re.findall(r'value="user:(\d+)"', page)  # nor may the administrator lead
    for co in ("quantri", "lan.nguyen"):  # the service refuses them too, whatever the form sends
        with pytest.raises(InvalidInput):
            await direct_to(db, doc.id, co_user_ids=[await user_id(db, co)])


def _badges(html: str) -> dict[str, int]:
    import re

    return {key: int(n) for key, n in re.findall(r'data-count="(\w+)"[^>]*>(\d+)<', html) if int(n)}


def _home_lines(html: str) -> dict[str, int]:
    import re

    lines: dict[str, int] = {}
    for key, n in re.findall(r'data-waiting="(\w+)" data-n="(\d+)"', html):
        lines[key] = lines.get(key, 0) + int(n)
    return lines


async def test_navigation_badges_count_what_the_home_page_and_the_queues_list(demo_db_sqlite, client_for, settings) -> None:
    import re

    db = demo_db_sqlite
    await register(db, settings, notation="41/KH-UBND")  # awaits the leader's direction
    directed = await register(db, settings, notation="42/KH-UBND")
    await direct_to(db, directed.id)  # the officer handles it
    returned = await register(db, settings, notation="43/KH-UBND")
    from services.incoming import service as incoming_service
    from tests.incoming.conftest import principal

    leader = await principal(db, "lan.nguyen")
    async with db.session() as session:  # back to the clerk's queue
        await incoming_service.return_to_clerk(session, principal=leader, document_id=returned.id, reason="Thiếu phụ lục.")
    queues = {"mai.tran": "/incoming/to-register", "lan.nguyen": "/incoming/to-direct", "thu.le": "/incoming/tasks"}
    for username, queue in queues.items():  # clerk, leader, officer
        client = await client_for(db)
        await sign_in(client, username)
        home = (await client.get("/")).text
        badges, lines = _badges(home), _home_lines(home)
        assert badges.get("incoming"), (username, badges)  # something waits for each of them
        assert badges == lines, username
        rows = len(re.findall(r'<tr class="', (await client.get(queue)).text))
        assert rows and rows == badges["incoming"], (username, rows, badges)
