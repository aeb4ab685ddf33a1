"""`lienthong sign` / `lienthong verify`: sign with a PKCS#12 file, print and check reports,
refuse bad inputs without leaving an output file."""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import pytest
from signing_docs import marked_pdf, outgoing_flow

from signing.cli import EXIT_ERROR, EXIT_INVALID, EXIT_OK, add_signing_commands


def run(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="lienthong")
    add_signing_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


@pytest.fixture
def marked_file(tmp_path: Path) -> Path:
    path = tmp_path / "in.pdf"
    path.write_bytes(marked_pdf())
    return path


def test_sign_at_the_marker_then_verify_succeeds(dev_pki, marked_file, tmp_path, capsys):
    out = tmp_path / "signed.pdf"
    code = run(
        [
            "sign",
            str(marked_file),
            str(out),
            "--p12",
            str(dev_pki.p12_path("person:lan.nguyen")),
            "--pin",
            dev_pki.pin,
            "--level",
            "B-T",
            "--marker",
            "leader",
            "--data-dir",
            str(dev_pki.data_dir),
        ]
    )
    assert code == EXIT_OK, capsys.readouterr().err
    assert out.read_bytes().startswith(marked_pdf())
    capsys.readouterr()
    assert run(["verify", str(out), "--data-dir", str(dev_pki.data_dir)]) == EXIT_OK
    printed = capsys.readouterr().out
    assert "Tất cả 1 chữ ký số hợp lệ và đáng tin cậy." in printed
    assert "All 1 signature(s) valid and trusted." in printed
    assert "Nguyễn Thị Lan" in printed and "B-T" in printed
    assert "Chữ ký hợp lệ, đáng tin cậy; văn bản không thay đổi sau khi ký." in printed


def test_sign_with_explicit_page_box_and_image(dev_pki, tiny_pdf, tmp_path):
    src, out, png = tmp_path / "tiny.pdf", tmp_path / "out.pdf", tmp_path / "sig.png"
    src.write_bytes(tiny_pdf)
    from PIL import Image

    Image.new("RGBA", (300, 100), (20, 40, 160, 255)).save(png)
    code = run(
        [
            "sign",
            str(src),
            str(out),
            "--p12",
            str(dev_pki.p12_path("person:hue.do")),
            "--pin",
            dev_pki.pin,
            "--level",
            "B-B",
            "--page",
            "1",
            "--box",
            "300,100,470,174",
            "--image",
            str(png),
            "--data-dir",
            str(dev_pki.data_dir),
        ]
    )
    assert code == EXIT_OK
    from pyhanko.pdf_utils.reader import PdfFileReader

    (sig,) = PdfFileReader(out.open("rb")).embedded_signatures
    assert [round(float(v)) for v in sig.sig_field["/Rect"]] == [300, 100, 470, 174]


def test_verify_json_and_non_zero_exit_when_a_signature_is_broken(dev_pki, tmp_path, capsys):
    good = tmp_path / "good.pdf"
    good.write_bytes(outgoing_flow(dev_pki).sealed)
    assert run(["verify", str(good), "--json", "--data-dir", str(dev_pki.data_dir)]) == EXIT_OK
    data = json.loads(capsys.readouterr().out)
    assert data["all_valid"] and [s["field_name"] for s in data["signatures"]] == ["Sig-leader", "Sig-seal"]

    bad = tmp_path / "bad.pdf"
    tampered = bytearray(good.read_bytes())
    tampered[3000] ^= 0x01
    bad.write_bytes(bytes(tampered))
    assert run(["verify", str(bad), "--data-dir", str(dev_pki.data_dir)]) == EXIT_INVALID
    assert "KHÔNG/NO" in capsys.readouterr().out


def test_verify_unsigned_exits_non_zero(dev_pki, marked_file):
    assert run(["verify", str(marked_file), "--data-dir", str(dev_pki.data_dir)]) == EXIT_INVALID


def _refused(dev_pki, tmp_path, capsys, src: Path, *extra: str, p12: Path | None = None, pin: str | None = None) -> str:
    out = tmp_path / "must-not-exist.pdf"
    code = run(
        [
            "sign",
            str(src),
            str(out),
            "--p12",
            str(p12 or dev_pki.p12_path("person:lan.nguyen")),
            "--pin",
            pin or dev_pki.pin,
            "--level",
            "B-B",
            "--invisible",
            "--data-dir",
            str(dev_pki.data_dir),
            *extra,
        ]
    )
    assert code == EXIT_ERROR
    assert not out.exists()
    assert not list(tmp_path.glob(".must-not-exist*")), "no partial output either"
    return capsys.readouterr().err


def test_wrong_pin_writes_nothing(dev_pki, marked_file, tmp_path, capsys):
    err = _refused(dev_pki, tmp_path, capsys, marked_file, pin="000000")
    assert "Lỗi:" in err and "Error:" in err


def test_not_a_pdf_writes_nothing(dev_pki, tmp_path, capsys):
    src = tmp_path / "note.pdf"
    src.write_text("chỉ là văn bản")
    assert "not a PDF" in _refused(dev_pki, tmp_path, capsys, src)


def test_truncated_pdf_writes_nothing(dev_pki, tmp_path, capsys):
    src = tmp_path / "cut.pdf"
    src.write_bytes(marked_pdf()[:5000])
    _refused(dev_pki, tmp_path, capsys, src)


def test_encrypted_pdf_writes_nothing(dev_pki, marked_file, tmp_path, capsys):
    enc = tmp_path / "enc.pdf"
    subprocess.run(["qpdf", "--encrypt", "", "owner", "256", "--", str(marked_file), str(enc)], check=True)
    assert "encrypted" in _refused(dev_pki, tmp_path, capsys, enc)


def test_certified_no_changes_pdf_writes_nothing(dev_pki, tiny_pdf, tmp_path, capsys):
    from pyhanko.sign.fields import MDPPerm

    from signing.pades import sign_pdf

    src = tmp_path / "certified.pdf"
    src.write_bytes(
        sign_pdf(
            tiny_pdf,
            signer=dev_pki.person_signer("lan.nguyen"),
            level="B-B",
            trust=dev_pki.trust,
            appearance=None,
            field_name="Sig-author",
            certify=MDPPerm.NO_CHANGES,
        )
    )
    assert "forbids any change" in _refused(dev_pki, tmp_path, capsys, src)


@pytest.mark.parametrize(("kind", "expected"), [("expired", "expired"), ("no_non_repudiation", "nonRepudiation")])
def test_unusable_certificate_writes_nothing(dev_pki, marked_file, tmp_path, capsys, kind, expected):
    dev_pki.bad_signer(kind)  # issues pki/test/bad-<kind>.p12
    p12 = dev_pki.pki_dir / "test" / f"bad-{kind}.p12"
    assert expected in _refused(dev_pki, tmp_path, capsys, marked_file, p12=p12)


def test_verify_runs_on_a_machine_with_no_pki_and_prints_no_traceback(dev_pki, tmp_path):
    """An auditor's own machine: no `pki init`, a fresh data dir. `lienthong verify` answers with
    Vietnam's shipped roots: intact and valid, but not trusted (a dev root is not among them),
    exit 1, and nothing on stderr but the verdict's own output."""
    signed = tmp_path / "signed.pdf"
    signed.write_bytes(outgoing_flow(dev_pki).sealed)
    machine = tmp_path / "auditor"
    done = subprocess.run(
        [sys.executable, "-m", "web.cli", "verify", str(signed), "--json", "--data-dir", str(machine)],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == EXIT_INVALID, done.stderr
    assert done.stderr == ""
    report = json.loads(done.stdout)
    assert [(s["intact"], s["valid"], s["trusted"]) for s in report["signatures"]] == [(True, True, False)] * 2
    assert not (machine / "pki").exists()


def test_pki_init_on_a_fresh_data_dir_creates_the_database_first(tmp_path):
    fresh = tmp_path / "fresh"
    done = subprocess.run(
        [sys.executable, "-m", "web.cli", "pki", "init", "--data-dir", str(fresh)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and (fresh / "pki" / "index.json").exists()
