"""Validation reports: tampering, added pages and revoked certificates are caught; unsigned
and broken files behave as documented; the expected signer can be asserted."""

from __future__ import annotations

import asyncio
import hashlib
import io
import json

import pytest
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.validation.ades import ades_lta_validation
from signing_docs import marked_pdf, outgoing_flow

from signing.appearance import Appearance
from signing.errors import InvalidPdf, UnexpectedSigner
from signing.pades import sign_pdf
from signing.validation import assert_signed_by, lta_validation_spec, validate_pdf


@pytest.fixture(scope="module")
def lta_signed(dev_pki) -> bytes:
    return sign_pdf(
        marked_pdf(),
        signer=dev_pki.person_signer("lan.nguyen"),
        level="B-LTA",
        trust=dev_pki.trust,
        appearance=Appearance.signature(name="Nguyễn Thị Lan", marker="leader"),
        field_name="Sig-leader",
    )


def test_b_lta_passes_ades_lta_validation(dev_pki, lta_signed):
    reader = PdfFileReader(io.BytesIO(lta_signed))
    (sig,) = reader.embedded_regular_signatures
    result = asyncio.run(ades_lta_validation(sig, lta_validation_spec(dev_pki.trust)))
    assert result.ades_subindic == AdESPassed.OK
    report = validate_pdf(lta_signed, trust=dev_pki.trust)
    assert report.signatures[0].pades_level == "B-LTA" and report.document_timestamps == 1


def _flip_signed_byte(pdf: bytes, offset_in_signed_range: int) -> bytes:
    reader = PdfFileReader(io.BytesIO(pdf))
    sig = reader.embedded_regular_signatures[0]
    start, length = sig.byte_range[0], sig.byte_range[1]
    pos = start + min(offset_in_signed_range, length - 1)
    data = bytearray(pdf)
    # Flip a bit of a content byte but keep it printable so the file still parses.
    data[pos] = data[pos] ^ 0x01 if chr(data[pos] ^ 0x01).isprintable() else data[pos] ^ 0x02
    return bytes(data)


@pytest.mark.parametrize("where", [2000, 20000, -1])
def test_flipping_a_signed_byte_makes_the_signature_not_intact(dev_pki, where):
    signed = outgoing_flow(dev_pki).sealed
    reader = PdfFileReader(io.BytesIO(signed))
    first_range_len = reader.embedded_regular_signatures[0].byte_range[1]
    offset = first_range_len - 50 if where == -1 else where
    report = validate_pdf(_flip_signed_byte(signed, offset), trust=dev_pki.trust)
    assert not report.all_valid
    assert not report.signatures[0].intact
    assert report.signatures[0].verdict_en.startswith("Not intact")


def test_a_page_added_after_signing_is_reported_as_a_modification(dev_pki):
    signed = outgoing_flow(dev_pki).leader_signed
    writer = IncrementalPdfFileWriter(io.BytesIO(signed))
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.generic import pdf_name

    pages = writer.root["/Pages"]
    page = generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Page"),
            pdf_name("/Parent"): writer.root.raw_get("/Pages"),
            pdf_name("/MediaBox"): generic.ArrayObject([generic.NumberObject(v) for v in (0, 0, 595, 842)]),
        }
    )
    pages["/Kids"].append(writer.add_object(page))
    pages[pdf_name("/Count")] = generic.NumberObject(int(pages["/Count"]) + 1)
    writer.update_container(pages)
    out = io.BytesIO()
    writer.write(out)
    report = validate_pdf(out.getvalue(), trust=dev_pki.trust)
    (sig,) = report.signatures
    assert sig.intact and sig.valid  # the signed bytes are untouched …
    assert sig.modification_level == "OTHER" and not sig.ok  # … but the change is not allowed
    assert not report.all_valid
    assert "not allowed" in sig.verdict_en


def test_revoked_certificate_is_reported_revoked(dev_pki, tiny_pdf):
    person = dev_pki.fresh_person("revoked-later", full_name="Lê Thị Thu Hà")
    signed = sign_pdf(
        tiny_pdf,
        signer=dev_pki.person_signer(person.username),
        level="B-T",
        trust=dev_pki.trust,
        appearance=None,
        field_name="Sig-leader",
    )
    assert validate_pdf(signed, trust=dev_pki.trust).signatures[0].revocation == "good"
    dev_pki.revoke(f"person:{person.username}")
    report = validate_pdf(signed, trust=dev_pki.trust)
    (sig,) = report.signatures
    assert sig.revocation == "revoked" and not sig.ok and not report.all_valid
    assert sig.verdict_vi == "Chứng thư số của người ký đã bị thu hồi."


def test_unsigned_pdf_gives_an_empty_report(dev_pki):
    report = validate_pdf(marked_pdf(), trust=dev_pki.trust)
    assert report.signatures == [] and not report.all_valid
    assert report.summary_vi == "Văn bản không có chữ ký số."


def test_broken_pdf_raises_invalid_pdf(dev_pki):
    with pytest.raises(InvalidPdf):
        validate_pdf(b"%PDF-1.7\nthis is not really a pdf", trust=dev_pki.trust)


def test_report_is_json_serialisable_with_vietnamese_intact(dev_pki):
    report = validate_pdf(outgoing_flow(dev_pki).sealed, trust=dev_pki.trust)
    data = json.loads(report.model_dump_json())
    assert data["all_valid"] is True
    leader = data["signatures"][0]
    assert leader["signer"]["name"] == "Nguyễn Thị Lan"
    assert leader["signer"]["organisation"] == "Hội Liên hiệp Phụ nữ tỉnh Bến Tre"
    assert leader["signing_time"].endswith("+07:00") and leader["signing_time_source"] == "timestamp"
    assert leader["verdict_vi"] == "Chữ ký hợp lệ, đáng tin cậy; sau khi ký chỉ điền biểu mẫu."
    assert int(leader["signer"]["serial_hex"], 16) > 0 and "Issuing CA" in leader["signer"]["issuer"]


def _fingerprint(dev_pki, owner: str) -> str:
    from cryptography.hazmat.primitives.serialization import Encoding

    return hashlib.sha256(dev_pki.pki.certificate(owner).public_bytes(Encoding.DER)).hexdigest()


def test_assert_signed_by_accepts_registered_certificates_and_refuses_others(dev_pki):
    report = validate_pdf(outgoing_flow(dev_pki).sealed, trust=dev_pki.trust)
    lan, seal = _fingerprint(dev_pki, "person:lan.nguyen"), _fingerprint(dev_pki, "org:HLHPN-BT")
    assert report.signatures[0].signer.fingerprint == lan
    assert assert_signed_by(report, {lan}, expected="Nguyễn Thị Lan").field_name == "Sig-leader"
    assert assert_signed_by(report, {seal}, expected="Hội Liên hiệp Phụ nữ tỉnh Bến Tre").field_name == "Sig-seal"
    with pytest.raises(UnexpectedSigner):
        assert_signed_by(report, {_fingerprint(dev_pki, "person:hue.do")}, expected="Đỗ Thị Huệ Anh")
    with pytest.raises(UnexpectedSigner):  # nothing registered: nothing counts, whatever the names
        assert_signed_by(report, set(), expected="Nguyễn Thị Lan")


def test_a_namesakes_certificate_from_a_trusted_ca_is_refused(dev_pki, tiny_pdf):
    """Same common name, another key, certified by the same trusted CA: valid, but not hers."""
    namesake = dev_pki.fresh_person("namesake", full_name="Nguyễn Thị Lan")
    signed = sign_pdf(
        tiny_pdf,
        signer=dev_pki.person_signer(namesake.username),
        level="B-T",
        trust=dev_pki.trust,
        appearance=None,
        field_name="Sig-leader",
    )
    report = validate_pdf(signed, trust=dev_pki.trust)
    (sig,) = report.signatures
    assert sig.ok and sig.signer.name == "Nguyễn Thị Lan"  # trusted, intact, the same name …
    assert sig.signer.fingerprint != _fingerprint(dev_pki, "person:lan.nguyen")
    with pytest.raises(UnexpectedSigner) as caught:  # … and still refused
        assert_signed_by(report, {_fingerprint(dev_pki, "person:lan.nguyen")}, expected="Nguyễn Thị Lan")
    assert "không dùng chứng thư số đã đăng ký và được xác nhận cho Nguyễn Thị Lan" in caught.value.message
    assert "Trùng họ tên không đủ" in caught.value.message and sig.signer.serial_hex.upper() in caught.value.message


def test_assert_signed_by_refuses_a_tampered_signature_of_the_right_person(dev_pki):
    tampered = _flip_signed_byte(outgoing_flow(dev_pki).sealed, 3000)
    report = validate_pdf(tampered, trust=dev_pki.trust)
    with pytest.raises(UnexpectedSigner):
        assert_signed_by(report, {_fingerprint(dev_pki, "person:lan.nguyen")}, expected="Nguyễn Thị Lan")
