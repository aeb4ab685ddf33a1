"""Conversions and previews of uploaded files run within memory and time limits: a file that
hits them is refused with a clear message, never a server error or a stuck worker."""

from __future__ import annotations

import pytest

from services.blobs import BlobStore
from services.errors import InvalidInput
from services.previews import Limits, page_png
from signing.convert import Converter

# One page of 200 × 200 inches (the largest a PDF allows): at the viewer's 110 dpi it needs a
# 22,000 × 22,000 pixel bitmap, about 1.5 GB; without limits poppler ran past a minute here.
HUGE_PAGE_PDF = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 14400 14400]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF"
)


def test_a_page_too_big_to_render_is_refused_with_a_clear_message(tmp_path) -> None:
    blobs = BlobStore(tmp_path / "blobs")
    digest = blobs.put(HUGE_PAGE_PDF)
    with pytest.raises(InvalidInput) as refused:
        page_png(blobs, digest, 1, Limits(memory_mb=512, timeout=20))
    assert "quá lớn hoặc quá phức tạp" in refused.value.message
    # Nothing half-rendered is kept for the next viewer.
    assert not list((tmp_path / "previews").rglob("*.png"))


def test_office_processes_run_under_the_memory_ceiling() -> None:
    converter = Converter(memory_mb=3000)
    try:
        converter.start()
        pids = converter.office_pids
        assert pids
        for pid in pids:
            limits = open(f"/proc/{pid}/limits").read()
            line = next(l for l in limits.splitlines() if l.startswith("Max address space"))
            assert str(3000 * 1024 * 1024) in line, line
    finally:
        converter.close()
