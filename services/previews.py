"""Page images of stored PDFs for the in-page viewer.

Every browser shows a PNG, phones included, while an embedded PDF needs a viewer plugin that
many mobile and headless browsers lack. Pages are rendered once by poppler (already needed for
signing) and kept beside the blobs, keyed by the file's hash, so a document is rendered once
however many people open it.
"""

from __future__ import annotations

import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from services.blobs import BlobStore, write_atomic
from services.config import Settings
from services.errors import InvalidInput, NotFound
from services.i18n import _l
from services.numbers import is_digits
from services.processes import LimitHit, run_limited

DPI = 110
MAX_PAGES = 60  # the viewer shows this many; the whole file is one click away
_TOO_BIG = (
    "Tệp này quá lớn hoặc quá phức tạp để xem trước trên trang. Hãy tải tệp về để xem.",
    "This file is too large or too complex to preview. Download it to read it.",
)


@dataclass(frozen=True)
class Limits:
    """What one poppler run may take (a page of 200 × 200 inches would need gigabytes)."""

    memory_mb: int = 1024
    timeout: float = 30

    @classmethod
    def of(cls, settings: Settings) -> Limits:
        return cls(memory_mb=settings.preview_memory_mb, timeout=settings.preview_timeout_seconds)


def _poppler(cmd: list[str], limits: Limits):
    try:
        return run_limited(cmd, memory_mb=limits.memory_mb, timeout=limits.timeout)
    except LimitHit as exc:
        raise InvalidInput(*_TOO_BIG, reason=str(exc)) from exc


def _cache_dir(blobs: BlobStore, digest: str) -> Path:
    return blobs.root.parent / "previews" / digest[:2] / digest


def _source(blobs: BlobStore, digest: str) -> Path:
    path = blobs.path(digest)
    if not path.exists():
        raise NotFound(_l("blob not found"))
    return path


def page_count(blobs: BlobStore, digest: str, limits: Limits = Limits()) -> int:
    """The number of pages of a stored PDF (pdfinfo), remembered beside its page images."""
    cached = _cache_dir(blobs, digest) / "pages"
    if cached.exists():
        return int(cached.read_text())
    done = _poppler(["pdfinfo", str(_source(blobs, digest))], limits)
    lines = done.stdout.decode("utf-8", "replace").splitlines()
    pages = next((line.split(":", 1)[1].strip() for line in lines if line.startswith("Pages:")), "")
    if done.returncode != 0 or not is_digits(pages):
        raise InvalidInput(_l("The PDF cannot be read for a preview."))
    write_atomic(cached, pages.encode())
    return int(pages)


def page_png(blobs: BlobStore, digest: str, page: int, limits: Limits = Limits()) -> bytes:
    """Page `page` (from 1) of a stored PDF as a PNG, rendered on first request, within `limits`."""
    if not 1 <= page <= min(page_count(blobs, digest, limits), MAX_PAGES):
        raise NotFound(_l("no such page"))
    target = _cache_dir(blobs, digest) / f"{page}-{DPI}.png"
    if target.exists():
        return target.read_bytes()
    with tempfile.TemporaryDirectory() as work:
        out = Path(work) / "page"
        done = _poppler(
            ["pdftoppm", "-png", "-r", str(DPI), "-f", str(page), "-l", str(page), "-singlefile", str(_source(blobs, digest)), str(out)],
            limits,
        )
        rendered = out.with_suffix(".png")
        if done.returncode != 0 or not rendered.exists():
            raise InvalidInput(_l("This page cannot be rendered."))
        data = rendered.read_bytes()
    write_atomic(target, data)
    return data


def pdf_for(blobs: BlobStore, digest: str, convert: Callable[[bytes], bytes]) -> str:
    """The hash of a PDF rendering of a stored office file (`convert` makes it), converted once:
    the PDF goes to the blob store and its hash is remembered beside the source's previews."""
    remembered = _cache_dir(blobs, digest) / "pdf"
    if remembered.exists():
        return remembered.read_text()
    pdf_sha = blobs.put(convert(blobs.get(digest)))
    write_atomic(remembered, pdf_sha.encode())
    return pdf_sha
