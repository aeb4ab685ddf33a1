"""Page images of stored PDFs for the in-page viewer.

Every browser shows a PNG, phones included, while an embedded PDF needs a viewer plugin that
many mobile and headless browsers lack. Pages are rendered once by poppler (already needed for
signing) and kept beside the blobs, keyed by the file's hash, so a document is rendered once
however many people open it.
"""

from __future__ import annotations

import subprocess
import tempfile
from pathlib import Path

from services.blobs import BlobStore, write_atomic
from services.errors import InvalidInput, NotFound

DPI = 110
MAX_PAGES = 60  # the viewer shows this many; the whole file is one click away
_TIMEOUT = 60


def _cache_dir(blobs: BlobStore, digest: str) -> Path:
    return blobs.root.parent / "previews" / digest[:2] / digest


def _source(blobs: BlobStore, digest: str) -> Path:
    path = blobs.path(digest)
    if not path.exists():
        raise NotFound("Không tìm thấy tệp.", "blob not found")
    return path


def page_count(blobs: BlobStore, digest: str) -> int:
    """The number of pages of a stored PDF (pdfinfo), remembered beside its page images."""
    cached = _cache_dir(blobs, digest) / "pages"
    if cached.exists():
        return int(cached.read_text())
    done = subprocess.run(["pdfinfo", str(_source(blobs, digest))], capture_output=True, text=True, timeout=_TIMEOUT)
    pages = next((line.split(":", 1)[1].strip() for line in done.stdout.splitlines() if line.startswith("Pages:")), "")
    if done.returncode != 0 or not pages.isdigit():
        raise InvalidInput("Không đọc được tệp PDF để xem trước.", "The PDF cannot be read for a preview.")
    write_atomic(cached, pages.encode())
    return int(pages)


def page_png(blobs: BlobStore, digest: str, page: int) -> bytes:
    """Page `page` (from 1) of a stored PDF as a PNG, rendered on first request."""
    if not 1 <= page <= min(page_count(blobs, digest), MAX_PAGES):
        raise NotFound("Không có trang này.", "no such page")
    target = _cache_dir(blobs, digest) / f"{page}-{DPI}.png"
    if target.exists():
        return target.read_bytes()
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "page"
        done = subprocess.run(
            ["pdftoppm", "-png", "-r", str(DPI), "-f", str(page), "-l", str(page), "-singlefile",
             str(_source(blobs, digest)), str(out)],
            capture_output=True, timeout=_TIMEOUT,
        )
        rendered = out.with_suffix(".png")
        if done.returncode != 0 or not rendered.exists():
            raise InvalidInput("Không hiển thị được trang này.", "This page cannot be rendered.")
        data = rendered.read_bytes()
    write_atomic(target, data)
    return data
