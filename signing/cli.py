"""`lienthong sign` and `lienthong verify`: sign a PDF with a PKCS#12 key, check a signed PDF.

Owns the command-line face of `signing.pades` and `signing.validation`; `web/cli.py` wires
`add_signing_commands` into the `lienthong` console script. Output files are written
atomically (temporary file, then rename) and only after signing succeeded, so a refused input
never leaves a half-written or unsigned "signed" file behind.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING

from signing.errors import SigningError
from signing.levels import LEVELS

# pyHanko and the PDF stack load when a command runs, not in every `lienthong` process
# (the parser is built by `lienthong worker` and `lienthong web` too).
if TYPE_CHECKING:
    from signing.trust import TrustConfig
    from signing.validation import ValidationReport

EXIT_OK = 0
EXIT_INVALID = 1
"""verify: at least one signature is not intact, valid and trusted (or none at all)."""
EXIT_ERROR = 2
"""The command could not do its job (bad input, refused certificate, wrong PIN…)."""


def add_signing_commands(subparsers: argparse._SubParsersAction) -> None:
    """Register `sign` and `verify` on an argparse sub-parser collection."""
    sign = subparsers.add_parser(
        "sign",
        help="Ký số tệp PDF (PAdES) / sign a PDF (PAdES)",
        description="Ký số tệp PDF bằng khóa PKCS#12 / Sign a PDF with a PKCS#12 key.",
    )
    sign.add_argument("input", type=Path, help="PDF to sign")
    sign.add_argument("output", type=Path, help="where to write the signed PDF")
    sign.add_argument("--p12", type=Path, required=True, help="PKCS#12 file holding key and certificate")
    sign.add_argument("--pin", required=True, help="PIN (password) of the PKCS#12 file")
    sign.add_argument("--level", choices=LEVELS, default="B-LT", help="PAdES level (default B-LT)")
    sign.add_argument("--image", type=Path, help="transparent PNG of the signature (default: generated)")
    sign.add_argument("--page", type=int, help="page number (from 1) for --box")
    sign.add_argument("--box", help="x1,y1,x2,y2 in points, origin bottom left")
    sign.add_argument("--marker", help="signing-block role marker, e.g. leader (default when no --box)")
    sign.add_argument("--invisible", action="store_true", help="no visible appearance")
    sign.add_argument("--field-name", default=None, help="signature field name (default Sig-<role>)")
    sign.add_argument("--reason", default=None)
    sign.add_argument("--location", default=None)
    sign.add_argument("--data-dir", type=Path, default=None, help="data dir holding the dev PKI (default LIENTHONG_DATA_DIR or ./var)")
    sign.set_defaults(func=run_sign)

    verify = subparsers.add_parser(
        "verify",
        help="Kiểm tra chữ ký số trong PDF / verify the signatures of a PDF",
        description="Kiểm tra chữ ký số / Verify signatures; exit 0 only if all are intact, valid and trusted.",
    )
    verify.add_argument("file", type=Path)
    verify.add_argument("--json", action="store_true", help="print the report as JSON")
    verify.add_argument("--data-dir", type=Path, default=None)
    verify.add_argument("--verbose", action="store_true", help="also print pyHanko's own diagnostics (path building, revocation)")
    verify.set_defaults(func=run_verify)


def _trust(data_dir: Path | None) -> TrustConfig:
    from services.config import Settings, get_settings
    from signing.trust import TrustConfig

    settings = Settings(data_dir=data_dir) if data_dir is not None else get_settings()
    return TrustConfig.from_settings(settings)


def _fail(exc: SigningError | ValueError | OSError) -> int:
    if isinstance(exc, SigningError):
        print(f"Lỗi: {exc.message}\nError: {exc.message_en}", file=sys.stderr)
    else:
        print(f"Lỗi / Error: {exc}", file=sys.stderr)
    return EXIT_ERROR


def _write_atomically(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".part")
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def run_sign(args: argparse.Namespace) -> int:
    """Sign `args.input` into `args.output`; returns the process exit code."""
    from signing.appearance import Appearance
    from signing.pades import sign_pdf, subject_common_name
    from signing.placement import Box
    from signing.signers import load_pkcs12_signer

    try:
        pdf = args.input.read_bytes()
        trust = _trust(args.data_dir)
        signer = load_pkcs12_signer(path=args.p12, pin=args.pin, other_certs=trust.other_certs)
        name = subject_common_name(signer.signing_cert)
        image = args.image.read_bytes() if args.image else None
        appearance: Appearance | None
        if args.invisible:
            appearance = None
        elif args.box:
            page = (args.page or 1) - 1
            if page < 0:
                raise ValueError("--page counts from 1")
            appearance = Appearance.signature(name=name, image_png=image, page=page, box=Box.parse(args.box))
        else:
            appearance = Appearance.signature(name=name, image_png=image, marker=args.marker or "leader")
        role = args.marker or ("leader" if not args.box else "signature")
        signed = sign_pdf(
            pdf,
            signer=signer,
            level=args.level,
            trust=trust,
            appearance=appearance,
            field_name=args.field_name or f"Sig-{role}",
            reason=args.reason,
            location=args.location,
        )
    except (SigningError, ValueError, OSError) as exc:
        return _fail(exc)
    _write_atomically(args.output, signed)
    print(f"Đã ký / Signed: {args.output} ({args.level}, {name})")
    return EXIT_OK


def format_report(report: ValidationReport) -> str:
    """A readable table plus the Vietnamese and English one-liners."""
    lines = [report.summary_vi, report.summary_en]
    if report.signatures:
        header = (
            "#",
            "Ô ký/Field",
            "Người ký/Signer",
            "Thời điểm/Time",
            "Mức/Level",
            "Nguyên vẹn/Intact",
            "Tin cậy/Trusted",
            "Thu hồi/Revocation",
            "Thay đổi sau/Changes",
        )
        rows = [header]
        for i, sig in enumerate(report.signatures, start=1):
            when = f"{sig.signing_time:%Y-%m-%d %H:%M:%S%z} ({sig.signing_time_source})" if sig.signing_time else "-"
            rows.append(
                (
                    str(i),
                    sig.field_name,
                    sig.signer.name,
                    when,
                    sig.pades_level or "-",
                    "có/yes" if sig.intact else "KHÔNG/NO",
                    "có/yes" if sig.trusted else "KHÔNG/NO",
                    sig.revocation,
                    sig.modification_level,
                )
            )
        widths = [max(len(r[c]) for r in rows) for c in range(len(header))]
        lines.append("")
        for row in rows:
            lines.append("  ".join(cell.ljust(widths[c]) for c, cell in enumerate(row)).rstrip())
        lines.append("")
        for i, sig in enumerate(report.signatures, start=1):
            lines.append(f"{i}. {sig.signer.name} — serial {sig.signer.serial_hex}")
            lines.append(f"   {sig.verdict_vi}")
            lines.append(f"   {sig.verdict_en}")
    if report.archive:
        lines.append("")
        lines.append(f"Chuỗi dấu thời gian lưu trữ (B-LTA) / Archive time stamp chain: {len(report.archive)}")
        for i, stamp in enumerate(report.archive, start=1):
            ok = "hợp lệ/valid" if stamp.intact and stamp.valid and stamp.trusted and stamp.covers_document else "KHÔNG HỢP LỆ/INVALID"
            lines.append(
                f"  {i}. {stamp.time:%Y-%m-%d %H:%M:%S%z} — {stamp.authority} "
                f"(chứng thư hết hạn/certificate expires {stamp.authority_expires:%Y-%m-%d}) — {ok}"
            )
    return "\n".join(lines)


def run_verify(args: argparse.Namespace) -> int:
    """Validate `args.file`; exit 0 only when every signature is intact, valid and trusted."""
    from signing.validation import validate_pdf

    if not args.verbose:
        # pyHanko logs each failed path with its traceback; the verdict below already says it.
        for name in ("pyhanko", "pyhanko_certvalidator"):
            logging.getLogger(name).setLevel(logging.CRITICAL)
    try:
        report = validate_pdf(args.file.read_bytes(), trust=_trust(args.data_dir))
    except (SigningError, ValueError, OSError) as exc:
        return _fail(exc)
    if args.json:
        print(json.dumps(report.model_dump(mode="json"), ensure_ascii=False, indent=2))
    else:
        print(format_report(report))
    return EXIT_OK if report.all_valid else EXIT_INVALID


def main(argv: list[str] | None = None) -> int:
    """Stand-alone entry point (`python -m signing.cli sign …`) until `lienthong` wires it."""
    parser = argparse.ArgumentParser(prog="lienthong")
    add_signing_commands(parser.add_subparsers(dest="command", required=True))
    args = parser.parse_args(argv)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
