"""The public API (/api/v1) for outgoing documents, driven as an integrator's script and a
leader's phone would: draft, revise, submit, sign with the PIN or by uploading a PDF signed
with a PKCS#12 file, issue with the seal, recall (issue 17)."""

from __future__ import annotations

from io import BytesIO

from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import signers
from pyhanko.sign.fields import MDPPerm
from sqlalchemy import func, select

from demo.directory import DEMO_PIN
from services.directory.models import Organization, Unit, User
from services.outgoing import edxml
from services.outgoing.models import OutgoingDocument
from tests.api.test_incoming_api import PROBLEM, _bearer
from tests.outgoing import flow
from tests.signing.conftest import make_tiny_pdf


async def _ids(database) -> dict[str, int]:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        users = {u.username: u.id for u in (await session.scalars(select(User))).all()}
        orgs = {o.code: o.id for o in (await session.scalars(select(Organization))).all()}
        unit = await session.scalar(select(Unit.id).where(Unit.organization_id == orgs["hlhpn-bentre"], Unit.code == "VP"))
    return {"lan": users["lan.nguyen"], "district": orgs["hlhpn-chauthanh"], "unit": unit}


def _fields(ids: dict[str, int], subject: str) -> dict[str, object]:
    return {
        "doc_type": "TB",
        "subject": subject,
        "body": "Cơ quan thông báo lịch trực tháng 12 năm 2026.",
        "signer_id": str(ids["lan"]),
        "recipient_org_ids": [str(ids["district"])],
        "external_recipients": ["Tỉnh đoàn Bến Tre"],
        "unit_id": str(ids["unit"]),
    }


async def test_a_script_drafts_a_leader_signs_with_the_pin_a_clerk_issues_and_recalls(demo_db_sqlite, og_settings, client_for) -> None:
    db, settings = demo_db_sqlite, og_settings
    api = await client_for(db)
    officer, leader, clerk = [await _bearer(db, u) for u in ("thu.le", "lan.nguyen", "mai.tran")]
    ids = await _ids(db)
    subject = "Thông báo lịch trực tháng 12 năm 2026"

    # Drafting, sent twice with the same key (a weak link): one draft.
    once = {**officer, "idempotency-key": "draft-lich-truc-12"}
    created = await api.post("/api/v1/outgoing", headers=once, data=_fields(ids, subject))
    assert created.status_code == 201, created.text
    doc = created.json()
    again = await api.post("/api/v1/outgoing", headers=once, data=_fields(ids, subject))
    assert again.status_code == 201 and again.headers["idempotent-replayed"] == "true" and again.json()["id"] == doc["id"]
    async with db.session() as session:
        assert await session.scalar(select(func.count()).select_from(OutgoingDocument).where(OutgoingDocument.subject == subject)) == 1
    assert created.headers["location"] == f"/api/v1/outgoing/{doc['id']}" and created.headers["etag"] == doc["etag"]
    assert doc["status"] == "draft" and {"edit", "submit", "attach"} <= set(doc["actions"])
    assert [v["number"] for v in doc["versions"]] == [1]
    assert {r["name"] for r in doc["recipients"]} >= {"Tỉnh đoàn Bến Tre"}
    docx = await api.get(doc["versions"][0]["docx_url"], headers=officer)
    assert docx.status_code == 200 and docx.content.startswith(b"PK")

    # A revision made on an older read is refused; on the current one it is a new version.
    url = f"/api/v1/outgoing/{doc['id']}"
    revised = {**_fields(ids, subject + " (sửa)"), "note": "Sửa trích yếu"}
    stale = await api.post(f"{url}/edit", headers={**officer, "if-match": '"outgoing-1-r1"'}, data=revised)
    assert stale.status_code == 409 and stale.headers["content-type"] == PROBLEM, stale.text
    edited = await api.post(f"{url}/edit", headers={**officer, "if-match": doc["etag"]}, data=revised)
    assert edited.status_code == 200, edited.text
    doc = edited.json()
    assert doc["subject"].endswith("(sửa)") and [v["number"] for v in doc["versions"]] == [1, 2]
    assert (await api.post(f"{url}/edit", headers={**officer, "if-match": created.json()["etag"]}, data=revised)).status_code == 409

    submitted = await api.post(f"{url}/submit", headers={**officer, "if-match": doc["etag"]}, json={})
    assert submitted.status_code == 200 and submitted.json()["status"] == "awaiting_signature", submitted.text
    await flow.render(db, settings, doc["id"])  # the workflow's step: the PDF to sign

    # The leader's phone: a wrong PIN is refused and keeps no key; the same key then signs.
    mine = await api.get(url, headers=leader)
    assert "sign" in mine.json()["actions"] and mine.json()["pdf_to_sign_url"]
    key = {**leader, "idempotency-key": "ky-lich-truc"}
    wrong = await api.post(f"{url}/sign", headers=key, data={"pin": "000000"})
    assert wrong.status_code in (403, 422, 429) and wrong.headers["content-type"] == PROBLEM, wrong.text
    assert wrong.json()["detail_vi"] and wrong.json()["detail_en"]
    signed = await api.post(f"{url}/sign", headers=key, data={"pin": DEMO_PIN})
    assert signed.status_code == 200, signed.text
    assert signed.json()["status"] == "signed" and signed.json()["sign_method"] == "pin"
    replay = await api.post(f"{url}/sign", headers=key, data={"pin": DEMO_PIN})
    assert replay.headers["idempotent-replayed"] == "true" and replay.json() == signed.json()

    # The clerk issues with the seal's PIN: numbered, dated, sealed.
    issued = await api.post(f"{url}/issue", headers={**clerk, "idempotency-key": "ban-hanh-1"}, json={"pin": DEMO_PIN})
    assert issued.status_code == 200, issued.text
    doc = issued.json()
    assert doc["status"] == "issued" and doc["number"] and doc["notation"].startswith(f"{doc['number']:02d}/TB-")
    pdf = await api.get(doc["pdf_url"], headers=clerk)
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
    assert doc["notation"] in flow.pdftotext(pdf.content)
    auditor = await _bearer(db, "dung.huynh")
    trail = (await api.get(f"/api/v1/audit/object/outgoing/{doc['id']}", headers=auditor)).json()
    assert trail["object"]["text"] == f"{doc['notation']} — {doc['subject']}"  # once, not "1/01/TB-…"
    listed = await api.get("/api/v1/outgoing", headers=clerk, params={"tab": "issued", "q": "lịch trực"})
    assert [d["id"] for d in listed.json()["items"]] == [doc["id"]]

    # The copy for the body outside the system leaves as an edXML package carrying the issued
    # PDF; its status comes back as a file the clerk imports, and shows on that recipient's row.
    package = edxml.parse((await api.get(doc["edxml_url"], headers=clerk)).content)
    assert package.number_notation == doc["notation"] and any(a.data == pdf.content for a in package.attachments)

    def status(code: str, name: str = "Tỉnh đoàn Bến Tre") -> dict[str, object]:
        answer = edxml.Status(sender=edxml.Organ(organ_id="000.00.31.H07", name=name), response_for=package.document_id, code=code)
        return {"package": ("trang-thai.xml", edxml.build_status(answer), "application/xml")}

    assert (await api.post("/api/v1/outgoing/edxml/import", headers=officer, files=status("03"))).status_code == 403
    district_clerk = await _bearer(db, "chauthanh.vanthu")
    assert (await api.post("/api/v1/outgoing/edxml/import", headers=district_clerk, files=status("03"))).status_code == 404
    for refused in (status("03", "Sở Nội vụ"), status("13")):
        wrong = await api.post("/api/v1/outgoing/edxml/import", headers=clerk, files=refused)
        assert wrong.status_code == 422 and wrong.headers["content-type"] == PROBLEM, wrong.text
    imported = await api.post("/api/v1/outgoing/edxml/import", headers=clerk, files=status("03"))
    assert imported.status_code == 200, imported.text
    assert imported.json() == {"incoming_id": None, "document_id": package.document_id, "outgoing_id": doc["id"], "status_code": "03"}
    doc = (await api.get(url, headers=clerk)).json()
    assert [(r["name"], r["status_code"]) for r in doc["recipients"] if r["external"]] == [("Tỉnh đoàn Bến Tre", "03")]

    # Recalled by the clerk, with the reason; the officer may not.
    assert (await api.post(f"{url}/recall", headers=officer, json={"reason": "Sai lịch"})).status_code == 403
    recalled = await api.post(f"{url}/recall", headers={**clerk, "if-match": doc["etag"]}, json={"reason": "Sai lịch trực"})
    assert recalled.status_code == 200 and recalled.json()["status"] == "recalled", recalled.text


async def test_a_leader_signs_from_a_script_with_her_pkcs12_file_and_uploads_the_pdf(
    demo_db_sqlite, og_settings, demo_pki, client_for
) -> None:
    db, settings = demo_db_sqlite, og_settings
    api = await client_for(db)
    officer, leader = [await _bearer(db, u) for u in ("thu.le", "lan.nguyen")]
    ids = await _ids(db)
    created = await api.post("/api/v1/outgoing", headers=officer, data=_fields(ids, "Thông báo nghỉ Tết Dương lịch 2027"))
    url = f"/api/v1/outgoing/{created.json()['id']}"
    assert (await api.post(f"{url}/submit", headers=officer, json={})).status_code == 200
    await flow.render(db, settings, created.json()["id"])

    doc = (await api.get(url, headers=leader)).json()
    prepared = (await api.get(doc["pdf_to_sign_url"], headers=leader)).content
    # Anything but this PDF with a signature added is refused.
    other = await api.post(f"{url}/sign", headers=leader, files={"signed_file": ("khac.pdf", make_tiny_pdf("khác"), "application/pdf")})
    assert other.status_code == 422 and other.headers["content-type"] == PROBLEM, other.text

    # What the script in docs/api.md does (sign_pdf there; its async twin here): pyHanko and her own .p12 file.
    p12 = settings.data_dir / "pki" / "people" / "lan.nguyen.p12"
    signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=DEMO_PIN.encode())
    assert signer is not None
    meta = signers.PdfSignatureMetadata(field_name="Sig-leader", certify=True, docmdp_permissions=MDPPerm.FILL_FORMS)
    signed_pdf = (await signers.async_sign_pdf(IncrementalPdfFileWriter(BytesIO(prepared)), meta, signer=signer)).getvalue()
    uploaded = await api.post(f"{url}/sign", headers=leader, files={"signed_file": ("ky-so.pdf", signed_pdf, "application/pdf")})
    assert uploaded.status_code == 200, uploaded.text
    assert uploaded.json()["status"] == "signed" and uploaded.json()["sign_method"] == "upload"
    # The signature as uploaded is the document's: pdfsig, an independent validator, reads it.
    leader_pdf = (await api.get(f"/outgoing/{created.json()['id']}/pdf?kind=signed", headers=leader)).content
    assert leader_pdf == signed_pdf
    assert "Signature is Valid" in flow.pdfsig(leader_pdf, demo_pki.nss_db)
