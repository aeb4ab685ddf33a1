"""Benchmark: the project's signing path against a naive pyHanko call.

Both make the same visible B-B signature (signature image + signer/time text in Noto Serif,
RSA-2048 key from a PKCS#12 file) on the same PDF, N times each in one process, and the median
milliseconds per signature are printed with their ratio (goal: project ≤ 0.5 × naive).

The naive call is what a straightforward integration does per request: open the PKCS#12 file,
build a `GlyphAccumulatorFactory` on the system font file and let pyHanko estimate the
signature size with a dry-run signature. The project path reuses the cached signer
(`signing.signers`), the pre-subset font (`signing.fonts`), the pre-encoded image
(`signing.appearance`) and a reserved CMS size (`signing.pades`), and it additionally checks the
certificate's revocation status against the dev OCSP responder on every signature.

Run: `python bench/bench_signing.py [-n 20]` (creates a throw-away dev PKI with loopback trust
services in a temporary directory).
"""

from __future__ import annotations

import argparse
import io
import socket
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from PIL import Image
from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
from pyhanko.pdf_utils.images import PdfImage
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.text import TextBoxStyle
from pyhanko.sign import fields, signers
from pyhanko.stamp import TextStampStyle

from demo.pdf import demo_pdf
from signing.appearance import Appearance, generated_signature_png
from signing.fonts import font_path
from signing.pades import sign_pdf
from signing.pki import OrgSpec, PersonSpec, init_dev_pki
from signing.placement import Box
from signing.signers import load_pkcs12_signer
from signing.trust_services import start_trust_services

PIN = "123456"
BOX = (330.0, 120.0, 500.0, 194.0)
NAME = "Nguyễn Thị Lan"


def one_page_pdf() -> bytes:
    """A valid one-page A4 PDF (the demo data's, built by hand so the benchmark needs no office suite)."""
    return demo_pdf("QUYẾT ĐỊNH về việc tổ chức Hội nghị")


def naive_sign(pdf: bytes, *, p12: Path, png: Path) -> bytes:
    """What a straightforward per-request pyHanko integration does."""
    signer = signers.SimpleSigner.load_pkcs12(str(p12), passphrase=PIN.encode())
    assert signer is not None
    style = TextStampStyle(
        stamp_text="Ký bởi: %(signer)s\n%(ts)s",
        text_box_style=TextBoxStyle(font=GlyphAccumulatorFactory(str(font_path()), font_size=7), font_size=7),
        background=PdfImage(Image.open(png)),
        background_opacity=1.0,
        border_width=0,
    )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf))
    meta = signers.PdfSignatureMetadata(field_name="Sig-leader", md_algorithm="sha256", subfilter=fields.SigSeedSubFilter.PADES)
    pdf_signer = signers.PdfSigner(
        meta,
        signer,
        stamp_style=style,
        new_field_spec=fields.SigFieldSpec("Sig-leader", on_page=0, box=BOX),  # type: ignore[arg-type]  # pyHanko says int, takes any number
    )
    out = io.BytesIO()
    pdf_signer.sign_pdf(writer, output=out)
    return out.getvalue()


def measure(label: str, n: int, fn: Callable[[], bytes]) -> float:
    fn()  # warm-up: imports, first font/key load (the project path caches them here)
    times = []
    for _ in range(n):
        start = time.perf_counter()
        fn()
        times.append((time.perf_counter() - start) * 1000)
    median = statistics.median(times)
    print(f"{label:<34} median {median:7.1f} ms   (min {min(times):.1f}, max {max(times):.1f}, n={n})")
    return median


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=20, help="signatures per variant")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="lienthong-bench-") as tmp:
        data_dir = Path(tmp)
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        pki = init_dev_pki(
            data_dir=data_dir,
            people=[PersonSpec("lan.nguyen", NAME, "Hội Liên hiệp Phụ nữ tỉnh Bến Tre", "Chủ tịch", "", PIN)],
            orgs=[OrgSpec("HLHPN-BT", "Hội Liên hiệp Phụ nữ tỉnh Bến Tre", "HLHPN", PIN)],
            base_url=f"http://127.0.0.1:{port}",
        )
        services = start_trust_services(data_dir, port=port)
        try:
            p12 = pki.p12_path("person:lan.nguyen")
            png = data_dir / "signature.png"
            png.write_bytes(generated_signature_png(name=NAME))
            pdf = one_page_pdf()
            trust = pki.trust()
            appearance = Appearance.signature(name=NAME, image_png=png.read_bytes(), box=Box(*BOX))

            def project() -> bytes:
                signer = load_pkcs12_signer(path=p12, pin=PIN)
                return sign_pdf(pdf, signer=signer, level="B-B", trust=trust, appearance=appearance, field_name="Sig-leader")

            naive = measure("naive pyHanko (load per call)", args.n, lambda: naive_sign(pdf, p12=p12, png=png))
            ours = measure("project signing.pades.sign_pdf", args.n, project)
            print(f"ratio project/naive: {ours / naive:.2f}× (goal ≤ 0.50×)")
        finally:
            services.stop()


if __name__ == "__main__":
    main()
