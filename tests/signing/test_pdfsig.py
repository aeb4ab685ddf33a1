"""Interoperability: poppler's pdfsig (NSS, an independent implementation) trusts the dev root
and agrees that our signatures are valid at every level and in sequence."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.serialization import Encoding
from signing_docs import PdfsigSignature, marked_pdf, outgoing_flow, parse_pdfsig

from signing.appearance import Appearance
from signing.pades import LEVELS, sign_pdf
from tests.helpers import skip_or_fail_without


@pytest.fixture(autouse=True)
def _tools() -> None:
    if shutil.which("pdfsig") is None or shutil.which("certutil") is None:
        skip_or_fail_without("needs poppler-utils (pdfsig) and libnss3-tools (certutil)")


@pytest.fixture(scope="module")
def nss_db(dev_pki, tmp_path_factory) -> Path:
    db = tmp_path_factory.mktemp("nssdb")
    root_pem = db / "root.pem"
    root_pem.write_bytes(dev_pki.pki.root_cert().public_bytes(Encoding.PEM))
    subprocess.run(["certutil", "-N", "-d", f"sql:{db}", "--empty-password"], check=True, capture_output=True)
    subprocess.run(
        ["certutil", "-A", "-n", "lienthong-dev-root", "-t", "CT,C,C", "-i", str(root_pem), "-d", f"sql:{db}"],
        check=True,
        capture_output=True,
    )
    return db


def pdfsig(pdf: bytes, nss_db: Path, tmp_path: Path) -> list[PdfsigSignature]:
    path = tmp_path / "signed.pdf"
    path.write_bytes(pdf)
    proc = subprocess.run(["pdfsig", "-nssdir", f"sql:{nss_db}", str(path)], capture_output=True, text=True)
    return parse_pdfsig(proc.stdout)


def _regular(sigs: list[PdfsigSignature]) -> list[PdfsigSignature]:
    # pdfsig lists B-LTA's document time stamp too but cannot verify that kind
    # ("Unable to validate this type of signature"); it is checked by our own validator.
    return [s for s in sigs if s.signature_type != "unknown"]


@pytest.mark.parametrize("level", LEVELS)
def test_pdfsig_reports_every_level_valid_and_trusted(dev_pki, nss_db, tmp_path, level):
    signed = sign_pdf(
        marked_pdf(),
        signer=dev_pki.person_signer("lan.nguyen"),
        level=level,
        trust=dev_pki.trust,
        appearance=Appearance.signature(name="Nguyễn Thị Lan", marker="leader"),
        field_name="Sig-leader",
    )
    sigs = pdfsig(signed, nss_db, tmp_path)
    (sig,) = _regular(sigs)
    assert sig.signer == "Nguyễn Thị Lan"
    assert sig.signature_type == "ETSI.CAdES.detached"
    assert sig.signature_validation == "Signature is Valid."
    assert sig.certificate_validation == "Certificate is Trusted."
    if level == "B-LTA":
        assert len(sigs) == 2


def test_pdfsig_reports_leader_and_seal_valid_after_form_filling(dev_pki, nss_db, tmp_path):
    sigs = pdfsig(outgoing_flow(dev_pki).sealed, nss_db, tmp_path)
    by_field = {s.field_name: s for s in sigs}
    assert set(by_field) == {"Sig-leader", "Sig-seal"}
    for sig in sigs:
        assert sig.signature_validation == "Signature is Valid."
        assert sig.certificate_validation == "Certificate is Trusted."
    assert by_field["Sig-seal"].signer == "Hội Liên hiệp Phụ nữ tỉnh Bến Tre"


def test_pdfsig_sees_tampering(dev_pki, nss_db, tmp_path):
    data = bytearray(outgoing_flow(dev_pki).sealed)
    data[3000] ^= 0x01
    sigs = pdfsig(bytes(data), nss_db, tmp_path)
    assert sigs and all(s.signature_validation != "Signature is Valid." for s in sigs)
