"""Page images of a stored PDF on a page: how many to show, and one page as a PNG response.

The signing pages show the exact file that will be signed as images (every phone shows a PNG;
an embedded PDF needs a plugin many lack), keyed by the file's hash so the image URL names the
version. Rendering is `services.previews` (poppler, once per file).
"""

from __future__ import annotations

import asyncio

from fastapi import Request
from fastapi.responses import Response

from services import previews
from services.blobs import BlobStore
from services.errors import DomainError, NotFound
from services.i18n import _l

DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"


def _blobs(request: Request) -> BlobStore:
    return BlobStore.for_settings(request.app.state.settings)


async def count(request: Request, sha: str | None) -> tuple[int, int]:
    """(pages shown, pages in the file); (0, 0) when the file is missing or cannot be read."""
    blobs = _blobs(request)
    if not sha or not blobs.exists(sha):
        return 0, 0
    try:
        total = await asyncio.to_thread(previews.page_count, blobs, sha, previews.Limits.of(request.app.state.settings))
    except DomainError:
        return 0, 0
    return min(total, previews.MAX_PAGES), total


async def png(request: Request, sha: str, page: int) -> Response:
    """One page as a PNG; the hash is immutable, so the browser may keep it."""
    data = await asyncio.to_thread(previews.page_png, _blobs(request), sha, page, previews.Limits.of(request.app.state.settings))
    return Response(data, media_type="image/png", headers={"Cache-Control": "private, max-age=86400"})


async def pdf_of(request: Request, sha: str, content_type: str) -> str:
    """The hash of the PDF to show for a stored file: itself, or its conversion (DOCX, once)."""
    if content_type == "application/pdf":
        return sha
    if content_type != DOCX:
        raise NotFound(_l("This file has no page preview; download it."))
    from signing.convert import get_converter

    return await asyncio.to_thread(previews.pdf_for, _blobs(request), sha, get_converter().convert)
