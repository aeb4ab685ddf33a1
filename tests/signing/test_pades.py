"""PAdES signing: every level signs and validates, sequential signatures stay valid, and each
kind of bad input is refused with its specific error and no output."""

from __future__ import annotations

import io
import subprocess
from pathlib import Path

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.fields import MDPPerm
from signing_docs import marked_pdf, outgoing_flow, render

from signing.appearance import Appearance
from signing.errors import (
    CertificateExpired,
    CertificateNotUsable,
    CertificateRevoked,
    ChangesForbidden,
    EncryptedPdf,
    InvalidPdf,
)
from signing.pades import LEVELS, sign_pdf
from signing.placement import Box
from signing.validation import validate_pdf


@pytest.fixture(scope="module")
def signed_by_level(dev_pki) -> dict[str, bytes]:
    """The marked document signed by the leader at each level (shared by the module's tests)."""
    pdf = marked_pdf()
    return {
        level: sign_pdf(
            pdf,
            signer=dev_pki.person_signer("lan.nguyen"),
            level=level,
            trust=dev_pki.trust,
            appearance=Appearance.signature(name="Nguyễn Thị Lan", marker="leader"),
            field_name="Sig-leader",
        )
        for level in LEVELS
    }


@pytest.mark.parametrize("level", LEVELS)
def test_each_level_signs_and_validates_at_that_level(dev_pki, signed_by_level, level):
    signed = signed_by_level[level]
    assert signed.startswith(marked_pdf()), "signing must be an incremental update of the input"
    report = validate_pdf(signed, trust=dev_pki.trust)
    assert report.all_valid, report.model_dump()
    (sig,) = report.signatures
    assert sig.pades_level == level
    assert (sig.intact, sig.valid, sig.trusted, sig.revocation) == (True, True, True, "good")
    assert sig.signing_time_source == ("claimed" if level == "B-B" else "timestamp")
    assert sig.signer.name == "Nguyễn Thị Lan"
    if level in ("B-LT", "B-LTA"):
        # DSS (and for LTA a document time stamp) follow the signature: allowed updates only.
        assert sig.modification_level == "LTA_UPDATES"
    else:
        assert sig.coverage == "ENTIRE_FILE"
    render(signed, f"level-{level}")


def test_leader_then_seal_both_valid_with_form_filling_between(dev_pki):
    flow = outgoing_flow(dev_pki)
    assert flow.sealed.startswith(flow.filled) and flow.filled.startswith(flow.leader_signed)
    report = validate_pdf(flow.sealed, trust=dev_pki.trust)
    assert report.all_valid
    leader, seal = report.signatures
    assert leader.signer.name == "Nguyễn Thị Lan" and seal.signer.name == "Hội Liên hiệp Phụ nữ tỉnh Bến Tre"
    assert leader.certification == "FILL_FORMS"
    assert leader.modification_level == "FORM_FILLING" and leader.docmdp_ok
    assert seal.modification_level == "NONE" and seal.coverage == "ENTIRE_FILE"
    assert leader.verdict_en == "Valid and trusted; only form filling after signing."
    render(flow.sealed, "outgoing-sealed")


def test_secretary_then_chair_sequential_signatures_stay_valid(dev_pki):
    first = sign_pdf(
        marked_pdf(),
        signer=dev_pki.person_signer("thu.tran"),
        level="B-B",
        trust=dev_pki.trust,
        appearance=Appearance.signature(name="Trần Thị Minh Thư", box=Box(80, 120, 250, 194)),
        field_name="Sig-secretary",
    )
    second = sign_pdf(
        first,
        signer=dev_pki.person_signer("lan.nguyen"),
        level="B-B",
        trust=dev_pki.trust,
        appearance=Appearance.signature(name="Nguyễn Thị Lan", box=Box(330, 120, 500, 194)),
        field_name="Sig-chair",
    )
    report = validate_pdf(second, trust=dev_pki.trust)
    assert [s.field_name for s in report.signatures] == ["Sig-secretary", "Sig-chair"]
    assert report.all_valid
    assert report.signatures[0].modification_level == "FORM_FILLING"


def _sign(dev_pki, pdf: bytes, **kwargs) -> bytes:
    args = dict(
        signer=dev_pki.person_signer("lan.nguyen"),
        level="B-B",
        trust=dev_pki.trust,
        appearance=None,
        field_name="Sig-leader",
    )
    args.update(kwargs)
    return sign_pdf(pdf, **args)


def test_not_a_pdf_is_refused(dev_pki):
    with pytest.raises(InvalidPdf) as info:
        _sign(dev_pki, b"PK\x03\x04 this is a zip, not a PDF")
    assert "PDF" in info.value.message


def test_truncated_pdf_is_refused(dev_pki):
    pdf = marked_pdf()
    with pytest.raises(InvalidPdf):
        _sign(dev_pki, pdf[: len(pdf) // 2])


def test_encrypted_pdf_is_refused(dev_pki, tmp_path: Path):
    src, dst = tmp_path / "in.pdf", tmp_path / "enc.pdf"
    src.write_bytes(marked_pdf())
    subprocess.run(["qpdf", "--encrypt", "user", "owner", "256", "--", str(src), str(dst)], check=True)
    with pytest.raises(EncryptedPdf):
        _sign(dev_pki, dst.read_bytes())


def test_certified_no_changes_pdf_refuses_a_further_signature(dev_pki, tiny_pdf):
    certified = _sign(dev_pki, tiny_pdf, certify=MDPPerm.NO_CHANGES)
    with pytest.raises(ChangesForbidden):
        _sign(dev_pki, certified, signer=dev_pki.org_signer("HLHPN-BT"), field_name="Sig-seal")


def test_expired_certificate_is_refused(dev_pki, tiny_pdf):
    with pytest.raises(CertificateExpired):
        _sign(dev_pki, tiny_pdf, signer=dev_pki.bad_signer("expired"))


def test_certificate_without_non_repudiation_is_refused(dev_pki, tiny_pdf):
    with pytest.raises(CertificateNotUsable) as info:
        _sign(dev_pki, tiny_pdf, signer=dev_pki.bad_signer("no_non_repudiation"))
    assert "nonRepudiation" in info.value.message_en


def test_revoked_certificate_is_refused(dev_pki, tiny_pdf):
    person = dev_pki.fresh_person("revoked-signer")
    signer = dev_pki.person_signer(person.username)
    dev_pki.revoke(f"person:{person.username}")
    with pytest.raises(CertificateRevoked):
        _sign(dev_pki, tiny_pdf, signer=signer)


def test_signature_field_already_signed_is_refused(dev_pki, signed_by_level):
    with pytest.raises(ChangesForbidden):
        _sign(dev_pki, signed_by_level["B-B"])


def test_signed_output_parses_and_keeps_every_page(dev_pki):
    pdf = marked_pdf(pages=2)
    signed = _sign(dev_pki, pdf, appearance=Appearance.signature(name="Nguyễn Thị Lan", marker="leader"))
    reader = PdfFileReader(io.BytesIO(signed))
    assert int(reader.root["/Pages"]["/Count"]) == 2
    # The signing block is on the last page: the widget must be there too.
    (sig,) = reader.embedded_signatures
    assert sig.sig_field["/P"] == reader.root["/Pages"]["/Kids"][1]
