"""Officers sign and check PDFs in the browser-facing pages; every attempt is in the trail."""

from __future__ import annotations

import re

from sqlalchemy import select

from services.audit.models import AuditEntry
from tests.helpers import csrf_of, sign_in
from tests.signing.conftest import make_tiny_pdf


async def _actions(database) -> list[str]:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        return list((await session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))).all())


async def _sign(client, pdf: bytes, **fields: str):  # type: ignore[no-untyped-def]
    token = await csrf_of(client, "/signing")
    data = {"csrf_token": token, "pin": "123456", "mode": "person", "level": "B-T", "placement": "invisible", **fields}
    return await client.post("/signing/sign", data=data, files={"file": ("cong-van.pdf", pdf, "application/pdf")})


async def test_leader_signs_a_pdf_and_downloads_a_valid_file(demo_db_sqlite, demo_signing, client_for) -> None:
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "lan.nguyen")
    page = await _sign(client, make_tiny_pdf("Ke hoach 2026"))
    assert page.status_code == 200, page.text[:2000]
    assert "Nguyễn Thị Lan" in page.text and "Chữ ký hợp lệ" in page.text
    link = re.search(r'href="(/signing/download/[^"]+)"', page.text).group(1).replace("&amp;", "&")
    signed = await client.get(link)
    assert signed.status_code == 200 and signed.content.startswith(b"%PDF")
    # The same link is useless to somebody else.
    other = await client_for(demo_db_sqlite)
    await sign_in(other, "hue.do")
    assert (await other.get(link)).status_code == 404
    # Checking the downloaded file gives the same verdict.
    token = await csrf_of(client, "/signing")
    checked = await client.post("/signing/verify", data={"csrf_token": token}, files={"file": ("x.pdf", signed.content, "application/pdf")})
    assert "Chữ ký hợp lệ" in checked.text
    assert {"signing.sign", "signing.verify"} <= set(await _actions(demo_db_sqlite))


async def test_wrong_pin_is_refused_and_recorded(demo_db_sqlite, demo_signing, client_for) -> None:
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "lan.nguyen")
    page = await _sign(client, make_tiny_pdf(), pin="000000")
    assert page.status_code == 422
    assert "Mã PIN ký số không đúng" in page.text
    assert (await _actions(demo_db_sqlite))[-1] == "signing.pin_failed"  # counted towards the lock


async def test_not_a_pdf_is_refused_with_nothing_stored(demo_db_sqlite, demo_signing, client_for, data_dir) -> None:
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "lan.nguyen")
    for bad in (b"hello, not a pdf", make_tiny_pdf()[:200], b""):
        page = await _sign(client, bad)
        assert page.status_code == 422
        assert "Hãy" in page.text  # says what to do
    assert not (data_dir / "blobs").exists()
    assert "signing.sign" not in await _actions(demo_db_sqlite)


async def test_clerk_seals_with_an_attachment_stamp(demo_db_sqlite, demo_signing, client_for) -> None:
    client = await client_for(demo_db_sqlite)
    await sign_in(client, "mai.tran")
    page = await client.get("/signing")
    org_id = re.search(r'name="org_id" value="(\d+)"', page.text).group(1)
    result = await _sign(client, make_tiny_pdf("Phu luc"), mode="org", org_id=org_id, placement="attachment", notation="15/QĐ-HLHPN")
    assert result.status_code == 200, result.text[:1500]
    assert "Hội Liên hiệp Phụ nữ tỉnh Bến Tre" in result.text


async def test_officer_cannot_use_another_organisations_seal(demo_db_sqlite, demo_signing, client_for) -> None:
    province = await client_for(demo_db_sqlite)
    await sign_in(province, "mai.tran")
    org_id = re.search(r'name="org_id" value="(\d+)"', (await province.get("/signing")).text).group(1)
    district = await client_for(demo_db_sqlite)
    await sign_in(district, "chauthanh.vanthu")
    page = await _sign(district, make_tiny_pdf(), mode="org", org_id=org_id, placement="invisible")
    assert page.status_code == 404


async def test_signature_image_upload_accepts_png_only(demo_db_sqlite, demo_signing, client_for) -> None:
    from signing.appearance import generated_signature_png

    client = await client_for(demo_db_sqlite)
    await sign_in(client, "lan.nguyen")
    token = await csrf_of(client, "/account")
    bad = await client.post("/account/signature-image", data={"csrf_token": token}, files={"file": ("a.png", b"GIF89a....", "image/png")})
    assert bad.status_code == 422
    png = generated_signature_png(name="Lan")
    ok = await client.post("/account/signature-image", data={"csrf_token": token}, files={"file": ("a.png", png, "image/png")})
    assert ok.status_code == 303
    assert (await client.get("/signing/image/me.png")).content == png
    assert "signing.profile_update" in await _actions(demo_db_sqlite)
