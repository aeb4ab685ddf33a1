"""A signed PDF is validated when the clerk registers it; the report is on the document page and
an invalid signature lets the clerk return the document to its sender."""

from __future__ import annotations

from signing.keystore import signer_for_person
from signing.pades import async_sign_pdf
from signing.trust import TrustConfig
from tests.helpers import csrf_of, sign_in
from tests.incoming.conftest import org_id
from tests.incoming.test_web import _form
from tests.signing.conftest import make_tiny_pdf


async def test_signed_pdf_is_validated_on_arrival_and_a_broken_one_can_be_returned(demo_db_sqlite, demo_signing, client_for) -> None:
    settings = demo_signing
    signer = signer_for_person(data_dir=settings.data_dir, username="lan.nguyen", pin="123456", settings=settings)
    signed = await async_sign_pdf(
        make_tiny_pdf("Cong van so 07"),
        signer=signer,
        level="B-B",
        trust=TrustConfig.from_settings(settings),
        appearance=None,
        field_name="Sig1",
    )
    # One signed byte changed (the page's size; the text is set as glyph codes, not as letters).
    tampered = signed.replace(b"/MediaBox [0 0 595 842]", b"/MediaBox [0 0 595 843]", 1)
    assert tampered != signed

    client = await client_for(demo_db_sqlite)
    await sign_in(client, "chauthanh.vanthu")
    district = await org_id(demo_db_sqlite, "hlhpn-chauthanh")
    token = await csrf_of(client, "/incoming/new")
    good = await client.post(
        "/incoming",
        data={**_form(district, "07/HLHPN-VP"), "csrf_token": token},
        files=[("files", ("cong-van.pdf", signed, "application/pdf"))],
    )
    assert good.status_code == 303, good.text[:1500]
    page = (await client.get(good.headers["location"])).text
    assert "Nguyễn Thị Lan" in page and "Chữ ký hợp lệ" in page

    bad = await client.post(
        "/incoming",
        data={**_form(district, "08/HLHPN-VP"), "csrf_token": token},
        files=[("files", ("cong-van.pdf", tampered, "application/pdf"))],
    )
    assert bad.status_code == 303, bad.text[:1500]
    doc_url = bad.headers["location"].split("?")[0]
    page = (await client.get(doc_url)).text
    assert "không còn nguyên vẹn" in page
    returned = await client.post(f"{doc_url}/return-sender", data={"csrf_token": token, "reason": "Chữ ký số không hợp lệ"})
    assert returned.status_code == 303, returned.text[:1500]
    assert "Chữ ký số không hợp lệ" in (await client.get(doc_url)).text
