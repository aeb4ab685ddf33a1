"""Development PKI, trust services, trust configuration and PKCS#12 signers."""

from __future__ import annotations

import argparse
import base64
import json
import stat
import urllib.parse
from datetime import UTC, datetime, timedelta
from io import BytesIO
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import signers
from pyhanko.sign.fields import SigSeedSubFilter
from pyhanko.sign.validation import async_validate_pdf_signature
from pyhanko_certvalidator import CertificateValidator
from pyhanko_certvalidator.errors import InvalidCertificateError, RevokedError

from services.config import Settings
from signing import anchors
from signing.errors import (
    CertificateExpired,
    CertificateNotUsable,
    CertificateRevoked,
    NoSigningKey,
    WrongPin,
)
from signing.keystore import signer_for_person
from signing.pki import DevPKI, OrgSpec, PersonSpec, init_dev_pki
from signing.pki_cli import register
from signing.signers import check_certificate_usable, load_pkcs12_signer
from signing.trust import TrustConfig

if TYPE_CHECKING:
    from tests.signing.conftest import DevPKIFixture


def _ocsp_request(dev_pki: DevPKIFixture, cert: x509.Certificate) -> bytes:
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(cert, dev_pki.pki.issuing_cert(), hashes.SHA256())
        .add_extension(x509.OCSPNonce(b"0123456789abcdef"), critical=False)
        .build()
    )
    return request.public_bytes(serialization.Encoding.DER)


def _ask_ocsp(dev_pki: DevPKIFixture, cert: x509.Certificate, *, method: str = "POST") -> ocsp.OCSPResponse:
    body = _ocsp_request(dev_pki, cert)
    if method == "POST":
        reply = httpx.post(dev_pki.ocsp_url, content=body, headers={"Content-Type": "application/ocsp-request"})
    else:
        encoded = urllib.parse.quote(base64.b64encode(body).decode("ascii"), safe="")
        reply = httpx.get(f"{dev_pki.ocsp_url}/{encoded}")
    assert reply.status_code == 200
    assert reply.headers["content-type"] == "application/ocsp-response"
    response = ocsp.load_der_ocsp_response(reply.content)
    assert response.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    # Signed by the delegated responder, which the issuing CA certified for OCSP signing.
    responder = dev_pki.pki.ocsp_cert()
    assert response.certificates[0] == responder
    responder.public_key().verify(  # type: ignore[call-arg]
        response.signature,
        response.tbs_response_bytes,
        *_verify_args(responder, response.signature_hash_algorithm),
    )
    assert response.extensions.get_extension_for_class(x509.OCSPNonce).value.nonce == b"0123456789abcdef"
    return response


def _verify_args(cert: x509.Certificate, algorithm: hashes.HashAlgorithm | None) -> tuple[object, ...]:
    from cryptography.hazmat.primitives.asymmetric import padding

    assert algorithm is not None
    return (padding.PKCS1v15(), algorithm)


async def _validate_chain(dev_pki: DevPKIFixture, cert: asn1_x509.Certificate) -> None:
    async with dev_pki.trust.validation_session(for_signing=True) as vc:
        validator = CertificateValidator(cert, validation_context=vc)
        await validator.async_validate_usage({"non_repudiation"})


async def _sign_pdf(pdf: bytes, signer: signers.Signer, timestamper: object | None = None) -> bytes:
    meta = signers.PdfSignatureMetadata(field_name="Sig1", subfilter=SigSeedSubFilter.PADES)
    pdf_signer = signers.PdfSigner(meta, signer=signer, timestamper=timestamper)  # type: ignore[arg-type]
    out = await pdf_signer.async_sign_pdf(IncrementalPdfFileWriter(BytesIO(pdf)))
    return out.getvalue()  # type: ignore[no-any-return]


# --------------------------------------------------------------------------------------------
# Keys and certificates


def test_p12_opens_only_with_the_right_pin(dev_pki: DevPKIFixture) -> None:
    path = dev_pki.p12_path("lan.nguyen")
    signer = load_pkcs12_signer(path=path, pin=dev_pki.pin)
    assert signer.signing_cert.subject.native["common_name"] == "Nguyễn Thị Lan"

    with pytest.raises(WrongPin) as caught:
        load_pkcs12_signer(path=path, pin="000000")
    assert caught.value.message == "Mã PIN ký số không đúng. Hãy nhập lại."
    assert caught.value.message_en == "The signing PIN is wrong."
    with pytest.raises(WrongPin):
        dev_pki.person_signer("lan.nguyen", pin="654321")


def test_private_keys_are_readable_by_the_owner_only_and_index_holds_no_secret(dev_pki: DevPKIFixture) -> None:
    pki_dir = dev_pki.pki_dir
    for path in [*pki_dir.glob("people/*.p12"), *pki_dir.glob("orgs/*.p12"), *pki_dir.glob("*.key.pem")]:
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert (pki_dir / "people" / "lan.nguyen.p12").exists()
    assert (pki_dir / "orgs" / "HLHPN-BT.p12").exists()
    index_text = (pki_dir / "index.json").read_text(encoding="utf-8")
    assert dev_pki.pin not in index_text
    assert "PRIVATE KEY" not in index_text
    index = json.loads(index_text)
    row = index["people"]["hue.do"]
    assert row["p12_path"] == "people/hue.do.p12"
    assert "Đỗ Thị Huệ Anh" in row["subject"]
    assert row["revoked"] is False


def test_person_certificate_names_the_officer_with_diacritics_and_allows_non_repudiation(
    dev_pki: DevPKIFixture,
) -> None:
    cert = dev_pki.pki.certificate("hue.do")
    assert cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Đỗ Thị Huệ Anh"
    assert cert.subject.get_attributes_for_oid(NameOID.TITLE)[0].value == "Phó Chủ tịch"
    assert cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ("Hội Liên hiệp Phụ nữ tỉnh Bến Tre")
    usage = cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert san.get_values_for_type(x509.RFC822Name) == ["hue.do@hlhpn-bentre.vn"]
    crl_dp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
    assert crl_dp[0].full_name[0].value == f"{dev_pki.base_url}/crl/issuing-ca.crl"
    aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
    ocsp_urls = [d.access_location.value for d in aia if d.access_method == x509.AuthorityInformationAccessOID.OCSP]
    assert ocsp_urls == [f"{dev_pki.base_url}/ocsp"]

    seal = dev_pki.pki.certificate("HLHPN-BT")
    assert seal.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value == "Hội Liên hiệp Phụ nữ tỉnh Bến Tre"
    assert seal.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)[0].value == ("Hội Liên hiệp Phụ nữ tỉnh Bến Tre")
    assert seal.extensions.get_extension_for_class(x509.KeyUsage).value.content_commitment


def test_service_certificates_have_their_dedicated_usages(dev_pki: DevPKIFixture) -> None:
    tsa_eku = dev_pki.pki.tsa_cert().extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert tsa_eku.critical and list(tsa_eku.value) == [ExtendedKeyUsageOID.TIME_STAMPING]
    ocsp_cert = dev_pki.pki.ocsp_cert()
    assert list(ocsp_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value) == [ExtendedKeyUsageOID.OCSP_SIGNING]
    assert ocsp_cert.extensions.get_extension_for_class(x509.OCSPNoCheck)


async def test_people_and_seal_certificates_chain_to_the_root_under_pyhanko(dev_pki: DevPKIFixture) -> None:
    for signer in (dev_pki.person_signer("lan.nguyen"), dev_pki.org_signer("HLHPN-BT")):
        await _validate_chain(dev_pki, signer.signing_cert)


async def test_a_foreign_root_is_not_trusted(dev_pki: DevPKIFixture, tmp_path: Path) -> None:
    other = init_dev_pki(data_dir=tmp_path, people=[], orgs=[], base_url=dev_pki.base_url)
    foreign = TrustConfig.from_dev_pki(other)
    async with foreign.validation_session(for_signing=True) as vc:
        validator = CertificateValidator(dev_pki.person_signer("lan.nguyen").signing_cert, validation_context=vc)
        with pytest.raises(Exception, match="(?i)path|trust"):
            await validator.async_validate_usage({"non_repudiation"})


def test_signers_are_loaded_once_per_process(dev_pki: DevPKIFixture) -> None:
    first = dev_pki.person_signer("ngoc.pham")
    assert dev_pki.person_signer("ngoc.pham") is first
    with pytest.raises(WrongPin):
        dev_pki.person_signer("ngoc.pham", pin="999999")


def test_keystore_refuses_unknown_expired_and_unusable_certificates(dev_pki: DevPKIFixture) -> None:
    with pytest.raises(NoSigningKey) as caught:
        signer_for_person(data_dir=dev_pki.data_dir, username="khong.co", pin=dev_pki.pin)
    assert "chưa có chứng thư số" in caught.value.message

    expired = dev_pki.bad_signer("expired")
    with pytest.raises(CertificateExpired) as expired_error:
        check_certificate_usable(expired.signing_cert)
    assert "hết hạn" in expired_error.value.message
    with pytest.raises(CertificateExpired):
        check_certificate_usable(dev_pki.bad_signer("not_yet_valid").signing_cert)
    with pytest.raises(CertificateNotUsable):
        check_certificate_usable(dev_pki.bad_signer("no_non_repudiation").signing_cert)


async def test_pyhanko_refuses_the_bad_test_certificates(dev_pki: DevPKIFixture) -> None:
    with pytest.raises(InvalidCertificateError):
        await _validate_chain(dev_pki, dev_pki.bad_signer("no_non_repudiation").signing_cert)
    with pytest.raises(Exception, match="(?i)expired"):
        await _validate_chain(dev_pki, dev_pki.bad_signer("expired").signing_cert)


# --------------------------------------------------------------------------------------------
# Revocation


async def test_ocsp_says_good_then_revoked_after_revoke(dev_pki: DevPKIFixture) -> None:
    person = dev_pki.fresh_person("ocsp")
    cert = dev_pki.pki.certificate(person.username)
    assert _ask_ocsp(dev_pki, cert).certificate_status == ocsp.OCSPCertStatus.GOOD
    signer = dev_pki.person_signer(person.username)
    await _validate_chain(dev_pki, signer.signing_cert)

    entry = dev_pki.revoke(person.username, "key_compromise")
    assert dev_pki.pki.is_revoked(entry.serial)

    for method in ("POST", "GET"):
        answer = _ask_ocsp(dev_pki, cert, method=method)
        assert answer.certificate_status == ocsp.OCSPCertStatus.REVOKED
        assert answer.revocation_reason == x509.ReasonFlags.key_compromise
    with pytest.raises(RevokedError):
        await _validate_chain(dev_pki, signer.signing_cert)
    with pytest.raises(CertificateRevoked) as caught:
        dev_pki.person_signer(person.username)
    assert "đã bị thu hồi" in caught.value.message


def test_ocsp_answers_unknown_for_a_serial_it_never_issued(dev_pki: DevPKIFixture) -> None:
    # A certificate with the issuing CA's name and key hash but a serial we never issued.
    issuer = dev_pki.pki.issuing_cert()
    forged = (
        ocsp.OCSPRequestBuilder()
        .add_certificate_by_hash(
            issuer_name_hash=_hash(issuer.subject.public_bytes()),
            issuer_key_hash=_hash(_key_bits(issuer)),
            serial_number=12345,
            algorithm=hashes.SHA256(),
        )
        .build()
    )
    reply = httpx.post(dev_pki.ocsp_url, content=forged.public_bytes(serialization.Encoding.DER))
    assert ocsp.load_der_ocsp_response(reply.content).certificate_status == ocsp.OCSPCertStatus.UNKNOWN
    garbage = httpx.post(dev_pki.ocsp_url, content=b"not an OCSP request")
    assert ocsp.load_der_ocsp_response(garbage.content).response_status == ocsp.OCSPResponseStatus.MALFORMED_REQUEST


def _hash(data: bytes) -> bytes:
    digest = hashes.Hash(hashes.SHA256())
    digest.update(data)
    return digest.finalize()


def _key_bits(cert: x509.Certificate) -> bytes:
    spki = asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER)).public_key
    return bytes(spki["public_key"].contents[1:])


def test_crl_lists_the_revoked_serial_and_is_short_lived(dev_pki: DevPKIFixture) -> None:
    person = dev_pki.fresh_person("crl")
    serial = dev_pki.pki.certificate(person.username).serial_number

    before = x509.load_der_x509_crl(httpx.get(dev_pki.crl_url).content)
    assert before.get_revoked_certificate_by_serial_number(serial) is None

    dev_pki.revoke(person.username, "cessation_of_operation")
    reply = httpx.get(dev_pki.crl_url)
    assert reply.headers["content-type"] == "application/pkix-crl"
    crl = x509.load_der_x509_crl(reply.content)
    assert crl.is_signature_valid(dev_pki.pki.issuing_cert().public_key())  # type: ignore[arg-type]
    revoked = crl.get_revoked_certificate_by_serial_number(serial)
    assert revoked is not None
    assert revoked.extensions.get_extension_for_class(x509.CRLReason).value.reason == (x509.ReasonFlags.cessation_of_operation)
    assert crl.next_update_utc is not None
    assert crl.next_update_utc - datetime.now(UTC) <= timedelta(hours=1)
    # The file on disk was rewritten too, for anyone serving it statically.
    on_disk = x509.load_der_x509_crl((dev_pki.pki_dir / "crl" / "issuing-ca.crl").read_bytes())
    assert on_disk.get_revoked_certificate_by_serial_number(serial) is not None

    root_crl = x509.load_der_x509_crl(httpx.get(f"{dev_pki.base_url}/crl/root-ca.crl").content)
    assert root_crl.is_signature_valid(dev_pki.pki.root_cert().public_key())  # type: ignore[arg-type]


# --------------------------------------------------------------------------------------------
# Time-stamping and a real signature


async def test_tsa_token_is_accepted_by_pyhanko_on_a_b_t_signature(dev_pki: DevPKIFixture, tiny_pdf: bytes) -> None:
    async with dev_pki.trust.timestamping() as timestamper:
        signed = await _sign_pdf(tiny_pdf, dev_pki.person_signer("lan.nguyen"), timestamper)
    reader = PdfFileReader(BytesIO(signed))
    (signature,) = reader.embedded_signatures
    async with dev_pki.trust.validation_session(for_signing=False) as vc:
        status = await async_validate_pdf_signature(signature, vc, ts_validation_context=vc)
    assert status.intact and status.valid and status.trusted
    assert status.signing_cert.subject.native["common_name"] == "Nguyễn Thị Lan"
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.valid
    assert status.timestamp_validity.trusted
    tsa_cn = status.timestamp_validity.signing_cert.subject.native["common_name"]
    assert tsa_cn == "Liên Thông Dev TSA"
    assert abs(status.timestamp_validity.timestamp - datetime.now(UTC)) < timedelta(minutes=5)


def test_tsa_rejects_weak_and_malformed_requests(dev_pki: DevPKIFixture) -> None:
    from asn1crypto import tsp

    reply = httpx.post(dev_pki.tsa_url, content=b"garbage", headers={"Content-Type": "application/timestamp-query"})
    assert reply.headers["content-type"] == "application/timestamp-reply"
    # asn1crypto's TimeStampResp requires a token, so read the lone status inside the SEQUENCE.
    assert reply.content[0] == 0x30
    status = tsp.PKIStatusInfo.load(reply.content[2:])
    assert status["status"].native == "rejection"
    assert status["fail_info"].native == {"bad_data_format"}


# --------------------------------------------------------------------------------------------
# Idempotency, issuing, settings, CLI


def test_init_is_idempotent_and_adds_new_people(dev_pki: DevPKIFixture, tmp_path: Path) -> None:
    base_url = "http://127.0.0.1:9"
    people = [PersonSpec("lan.nguyen", "Nguyễn Thị Lan", "Hội LHPN tỉnh Bến Tre", "Chủ tịch", "lan@example.vn", "1111")]
    orgs = [OrgSpec("HLHPN-BT", "Hội Liên hiệp Phụ nữ tỉnh Bến Tre", "HLHPN", "2222")]
    first = init_dev_pki(data_dir=tmp_path, people=people, orgs=orgs, base_url=base_url)
    root_serial = first.root_cert().serial_number
    lan_serial = first.entry("lan.nguyen").serial
    lan_p12 = first.p12_path("lan.nguyen").read_bytes()

    newcomer = PersonSpec("hoa.le", "Lê Thị Hoa", "Hội LHPN tỉnh Bến Tre", "Chuyên viên", "hoa@example.vn", "3333")
    again = init_dev_pki(data_dir=tmp_path, people=[*people, newcomer], orgs=orgs, base_url=base_url)
    assert again.root_cert().serial_number == root_serial
    assert again.entry("lan.nguyen").serial == lan_serial
    assert again.p12_path("lan.nguyen").read_bytes() == lan_p12
    assert load_pkcs12_signer(path=again.p12_path("hoa.le"), pin="3333").signing_cert.subject.native["common_name"] == "Lê Thị Hoa"
    assert DevPKI.load(tmp_path).entry("HLHPN-BT").owner == "org:HLHPN-BT"


def test_trust_from_settings_uses_dev_pki_or_configured_roots(dev_pki: DevPKIFixture, tmp_path: Path) -> None:
    """Outside production: the dev root first, then Vietnam's shipped roots. In production: the
    profile's roots and the configured files, never a dev PKI; no root at all is refused."""
    vn_roots, _ = anchors.profile("vn")
    dev = TrustConfig.from_settings(Settings(data_dir=dev_pki.data_dir))
    assert [c.sha256 for c in dev.trust_roots] == [c.sha256 for c in dev_pki.trust.trust_roots + vn_roots]
    assert dev.tsa_url == dev_pki.tsa_url

    root_file = tmp_path / "national-root.cer"  # DER, the way government roots are published
    root_file.write_bytes(dev_pki.pki.root_cert().public_bytes(serialization.Encoding.DER))
    configured = TrustConfig.from_settings(
        Settings(data_dir=dev_pki.data_dir, trust_roots=[root_file], tsa_url="http://tsa.example.vn", production=True)
    )
    assert [c.sha256 for c in configured.trust_roots] == [c.sha256 for c in vn_roots] + [dev.trust_roots[0].sha256]
    assert configured.tsa_url == "http://tsa.example.vn"
    production = TrustConfig.from_settings(Settings(data_dir=dev_pki.data_dir, production=True))
    assert [c.sha256 for c in production.trust_roots] == [c.sha256 for c in vn_roots]  # the dev root is not trusted
    with pytest.raises(RuntimeError, match="TRUST_ROOTS"):
        TrustConfig.from_settings(Settings(data_dir=tmp_path, production=True, trust_profile="none"))


def test_pki_cli_init_and_revoke(dev_pki: DevPKIFixture, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    people_file = tmp_path / "people.json"
    people_file.write_text(
        json.dumps(
            {
                "people": [
                    {
                        "username": "mai.vo",
                        "full_name": "Võ Thị Mai",
                        "org_name": "Hội LHPN xã Tân Thạch",
                        "position": "Chủ tịch",
                        "email": "mai@example.vn",
                        "pin": "4444",
                    }
                ],
                "orgs": [{"code": "HLHPN-TT", "name": "Hội LHPN xã Tân Thạch", "abbreviation": "HLHPN", "pin": "5555"}],
            },
            ensure_ascii=False,
        ),
        encoding="utf-8",
    )
    parser = argparse.ArgumentParser()
    register(parser.add_subparsers(dest="command", required=True))
    data_dir = tmp_path / "data"
    args = parser.parse_args(
        ["pki", "init", "--data-dir", str(data_dir), "--from-json", str(people_file), "--base-url", "http://127.0.0.1:9"]
    )
    assert args.func(args) == 0
    args = parser.parse_args(["pki", "revoke", "HLHPN-TT", "--data-dir", str(data_dir), "--reason", "superseded"])
    assert args.func(args) == 0
    pki = DevPKI.load(data_dir)
    assert pki.entry("HLHPN-TT").revoked and not pki.entry("mai.vo").revoked
    assert "revoked org:HLHPN-TT" in capsys.readouterr().out
