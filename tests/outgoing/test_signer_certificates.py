"""An uploaded signature counts only when its certificate is registered and confirmed for the
expected signer: a namesake's certificate (same name, another key, the same trusted CA) is
refused; the leader's new token is accepted once she proposed it from a first signature and
an administrator confirmed it. Administrators register certificate files and revoke them."""

from __future__ import annotations

import re

from cryptography.hazmat.primitives.serialization import Encoding
from pyhanko.sign.fields import MDPPerm
from sqlalchemy import select

from demo.directory import DEMO_PIN
from services.audit.models import AuditEntry
from services.blobs import BlobStore
from services.keys.models import CertSource, CertStatus, SignerCertificate
from services.outgoing import service as outgoing
from signing.appearance import Appearance
from signing.keystore import signer_for_person
from signing.pades import async_sign_pdf
from signing.pki import DevPKI, PersonSpec, issue_certificate
from signing.trust import TrustConfig
from tests.helpers import csrf_of, sign_in
from tests.hostile.corpus import tampered_after_signing
from tests.outgoing import flow

LAN = "Nguyễn Thị Lan"
PROVINCE = "Hội Liên hiệp Phụ nữ tỉnh Bến Tre"


def _another_key_named_lan(settings, username: str) -> None:  # type: ignore[no-untyped-def]
    """A certificate from the same trusted dev CA, with Lan's name on another key."""
    issue_certificate(data_dir=settings.data_dir, spec=PersonSpec(username, LAN, PROVINCE, "Chuyên viên", "", DEMO_PIN))


async def _actions(database) -> list[str]:  # type: ignore[no-untyped-def]
    async with database.session() as session:
        return list((await session.scalars(select(AuditEntry.action).order_by(AuditEntry.seq))).all())


async def test_only_a_confirmed_certificate_of_the_leader_counts_never_a_namesakes(
    demo_db_sqlite,
    og_settings,
    client_for,
) -> None:
    db, settings = demo_db_sqlite, og_settings
    doc_id = await flow.draft(db, settings, doc_type="TB", subject="Thông báo lịch trực cơ quan")
    await flow.submit_direct(db, doc_id)
    await flow.render(db, settings, doc_id)
    async with db.session() as session:
        prepared = BlobStore.for_data_dir(settings.data_dir).get((await outgoing.get(session, document_id=doc_id)).prepared_pdf_sha)
    trust = TrustConfig.from_settings(settings)
    _another_key_named_lan(settings, "namesake.lan")
    _another_key_named_lan(settings, "token.lan")  # Lan's new USB token

    async def signed_with(username: str) -> bytes:
        signer = signer_for_person(data_dir=settings.data_dir, username=username, pin=DEMO_PIN, settings=settings)
        return await async_sign_pdf(
            prepared,
            signer=signer,
            level="B-T",
            trust=trust,
            appearance=Appearance.signature(name=LAN, marker="leader"),
            field_name="Sig-leader",
            certify=MDPPerm.FILL_FORMS,
        )

    leader = await client_for(db)
    await sign_in(leader, "lan.nguyen")

    async def upload(pdf: bytes):  # type: ignore[no-untyped-def]
        token = await csrf_of(leader, f"/outgoing/{doc_id}")
        return await leader.post(
            f"/outgoing/{doc_id}/sign", data={"csrf_token": token}, files={"signed_file": ("ky-so.pdf", pdf, "application/pdf")}
        )

    namesake = await upload(await signed_with("namesake.lan"))
    assert namesake.status_code == 409
    assert f"không dùng chứng thư số đã đăng ký và được xác nhận cho {LAN}" in namesake.text
    assert "Trùng họ tên không đủ" in namesake.text

    first = await signed_with("token.lan")
    assert (await upload(first)).status_code == 409  # not registered yet
    token = await csrf_of(leader, "/account")
    proposed = await leader.post(
        "/account/certificates", data={"csrf_token": token}, files={"file": ("lan-ky-thu.pdf", first, "application/pdf")}
    )
    assert proposed.status_code == 303
    assert "Chờ quản trị xác nhận" in (await leader.get("/account")).text
    assert (await upload(first)).status_code == 409  # pending is not confirmed

    admin = await client_for(db)
    await sign_in(admin, "quantri")
    page = await admin.get("/admin/certificates")
    assert page.status_code == 200 and "Chờ xác nhận" in page.text
    async with db.session() as session:
        pending = await session.scalar(select(SignerCertificate).where(SignerCertificate.status == CertStatus.pending))
        assert pending.source == CertSource.self and pending.common_name == LAN
    token = await csrf_of(admin, "/admin/certificates")
    assert (await admin.post(f"/admin/certificates/{pending.id}/confirm", data={"csrf_token": token})).status_code == 303
    assert "Đã xác nhận" in (await leader.get("/account")).text

    assert (await upload(await signed_with("namesake.lan"))).status_code == 409  # still not hers
    for case, forged in tampered_after_signing(first).items():  # her signature, content added after it
        refused = await upload(forged)
        message = re.search(r'role="alert"[^>]*>(.*?)</', refused.text, re.S)
        assert refused.status_code in (409, 422) and message, (case, refused.status_code, refused.text[:1500])
        assert "sau khi ký" in message.group(1) or "không phải PDF hợp lệ" in message.group(1), (case, message.group(1))
        async with db.session() as session:
            assert (await outgoing.get(session, document_id=doc_id)).status.value != "signed", case
    accepted = await upload(first)
    assert accepted.status_code == 303, accepted.text[:1500]
    async with db.session() as session:
        doc = await outgoing.get(session, document_id=doc_id)
        assert doc.status.value == "signed" and doc.sign_method == "upload"
    actions = await _actions(db)
    assert {"certificate.register", "certificate.confirm"} <= set(actions)


async def test_administrator_registers_a_certificate_file_and_revoking_it_stops_its_signatures(
    demo_db_sqlite,
    og_settings,
    client_for,
) -> None:
    db, settings = demo_db_sqlite, og_settings
    pki = DevPKI.load(settings.data_dir)
    _another_key_named_lan(settings, "token2.lan")
    der = pki.certificate("person:token2.lan").public_bytes(Encoding.DER)
    admin = await client_for(db)
    await sign_in(admin, "quantri")
    page = await admin.get("/admin/certificates")
    lan_owner = re.search(r'<option value="(user:\d+)">Nguyễn Thị Lan \(lan.nguyen\)', page.text).group(1)
    hue_owner = re.search(r'<option value="(user:\d+)">Đỗ Thị Huệ Anh \(hue.do\)', page.text).group(1)

    async def register(owner: str, name: str, data: bytes):  # type: ignore[no-untyped-def]
        token = await csrf_of(admin, "/admin/certificates")
        return await admin.post(
            "/admin/certificates", data={"csrf_token": token, "owner": owner}, files={"file": (name, data, "application/pkix-cert")}
        )

    bad = await register(lan_owner, "lan.cer", b"not a certificate")
    assert bad.status_code == 422 and "Tệp không phải chứng thư số hợp lệ" in bad.text
    assert (await register(lan_owner, "lan.cer", der)).status_code == 303
    taken = await register(hue_owner, "lan.cer", der)  # one certificate, one owner
    assert taken.status_code == 409 and "đã được đăng ký cho người hoặc cơ quan khác" in taken.text
    async with db.session() as session:
        row = await session.scalar(
            select(SignerCertificate).where(SignerCertificate.serial_hex == format(pki.certificate("person:token2.lan").serial_number, "x"))
        )
        assert row.status == CertStatus.confirmed and row.source == CertSource.admin

    # Lan signs with her PIN: her system-held key is registered on the way; an administrator
    # then revokes that registration and the same key no longer signs.
    leader = await client_for(db)
    await sign_in(leader, "lan.nguyen")
    token = await csrf_of(leader, "/signing")
    form = {"csrf_token": token, "pin": DEMO_PIN, "mode": "person", "level": "B-B", "placement": "invisible"}
    pdf = flow_pdf()
    assert (await leader.post("/signing/sign", data=form, files={"file": ("a.pdf", pdf, "application/pdf")})).status_code == 200
    async with db.session() as session:
        system = await session.scalar(
            select(SignerCertificate).where(SignerCertificate.source == CertSource.system, SignerCertificate.common_name == LAN)
        )
    token = await csrf_of(admin, "/admin/certificates")
    no_reason = await admin.post(f"/admin/certificates/{system.id}/revoke", data={"csrf_token": token, "reason": " "})
    assert no_reason.status_code == 422
    revoked = await admin.post(f"/admin/certificates/{system.id}/revoke", data={"csrf_token": token, "reason": "Thiết bị ký số bị mất"})
    assert revoked.status_code == 303
    refused = await leader.post("/signing/sign", data=form, files={"file": ("a.pdf", pdf, "application/pdf")})
    assert refused.status_code == 409 and "thu hồi đăng ký" in refused.text
    actions = await _actions(db)
    assert actions.count("certificate.revoke") == 1 and "certificate.register" in actions


def flow_pdf() -> bytes:
    from tests.signing.conftest import make_tiny_pdf

    return make_tiny_pdf("Chung thu")
