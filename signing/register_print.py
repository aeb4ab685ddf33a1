"""A register book printed as PDF a part at a time, for the background print (issue 16).

A year's register can hold tens of thousands of rows: LibreOffice takes about a minute for
19,000 of them. The book is laid out as parts of `part_rows` rows (the title on the first, the
header rows on each, every part from a new page, as `build_register_docx` splits a book), each
part converted on its own: the print can say how far it got after every part, the office is free
for other conversions between parts, and no single conversion runs long. The parts' pages are
then joined by qpdf into one file whose footer ("Trang N") counts on from part to part.

Given a `PartStore`, each converted part is kept there under the digest of what it was built
from (`part_source`), and a part found there is not converted again: a print tried again after a
lost worker goes on from where it stopped, unless the rows of a part changed meanwhile.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import json
import shutil
import subprocess
import tempfile
from collections.abc import Awaitable, Callable, Mapping, Sequence
from io import BytesIO
from pathlib import Path
from typing import Protocol

from pyhanko.pdf_utils.reader import PdfFileReader

from services.documents.layout import PdfConverter
from services.documents.registers_print import PART_ROWS, RegisterKind, build_register_docx
from signing.convert import ConversionFailed, ConverterUnavailable

__all__ = ["PartStore", "Progress", "join_pdfs", "page_count", "part_source", "print_book"]

#: Told after each converted part: (parts converted, parts in the book, rows converted).
Progress = Callable[[int, int, int], Awaitable[None]]
JOIN_TIMEOUT = 300.0  # qpdf joins a year's 1,300 pages in about a second


class PartStore(Protocol):
    """Where the converted parts of one print are kept across its attempts."""

    async def kept(self, position: int, source: str) -> bytes | None: ...

    async def keep(self, position: int, source: str, pdf: bytes) -> None: ...


def part_source(**built_from: object) -> str:
    """The digest of what a part is built from (its rows, where it starts, the book's title…)."""
    return hashlib.sha256(json.dumps(built_from, default=str, sort_keys=True, ensure_ascii=False).encode()).hexdigest()


def parts_of(rows: Sequence[Mapping[str, object]], part_rows: int = PART_ROWS) -> list[Sequence[Mapping[str, object]]]:
    """The book's parts: `part_rows` rows each; an empty book is one part (its title and header)."""
    return [rows[i : i + part_rows] for i in range(0, len(rows), part_rows)] or [rows]


def page_count(pdf: bytes) -> int:
    pages = PdfFileReader(BytesIO(pdf)).root["/Pages"]
    return int(pages["/Count"])


def join_pdfs(pdfs: Sequence[bytes]) -> bytes:
    """One PDF with the pages of `pdfs` in order (qpdf: fast, and keeps each part's fonts shared
    by its pages)."""
    if len(pdfs) == 1:
        return pdfs[0]
    qpdf = shutil.which("qpdf")
    if qpdf is None:
        raise ConverterUnavailable("qpdf is not installed (needed to join a long register's parts)")
    with tempfile.TemporaryDirectory(prefix="lienthong-book-") as work:
        names = []
        for index, pdf in enumerate(pdfs):
            path = Path(work) / f"part-{index:05d}.pdf"
            path.write_bytes(pdf)
            names.append(str(path))
        joined = Path(work) / "book.pdf"
        try:
            done = subprocess.run(
                [qpdf, "--empty", "--pages", *names, "--", str(joined)], capture_output=True, timeout=JOIN_TIMEOUT, check=False
            )
        except subprocess.TimeoutExpired:
            raise ConversionFailed(f"qpdf took longer than {JOIN_TIMEOUT} s joining {len(pdfs)} parts") from None
        # 3: warnings only (the file is written).
        if done.returncode not in (0, 3) or not joined.exists():
            raise ConversionFailed(f"qpdf exited {done.returncode}: {done.stderr.decode(errors='replace')[-300:]}")
        return joined.read_bytes()


async def print_book(
    *,
    kind: RegisterKind,
    org_name: str,
    year: int,
    rows: Sequence[Mapping[str, object]],
    converter: PdfConverter,
    part_rows: int = PART_ROWS,
    progress: Progress | None = None,
    store: PartStore | None = None,
) -> bytes:
    """The register as one PDF, converted a part at a time; `progress` is told after each part,
    `store` keeps each part (and gives back those an earlier attempt converted)."""
    parts = parts_of(rows, part_rows)
    pdfs: list[bytes] = []
    first_page, done_rows = 1, 0
    for index, part in enumerate(parts):
        pdf, source = None, ""
        # What the part is built from but its rows, given once to the builder and to its digest.
        build = functools.partial(
            build_register_docx, kind=kind, org_name=org_name, year=year, heading=index == 0, first_page=first_page, part_rows=part_rows
        )
        if store is not None:  # a part is known by everything it is built from
            source = part_source(**build.keywords, rows=[dict(row) for row in part])
            pdf = await store.kept(index, source)
        if pdf is None:
            docx = await asyncio.to_thread(build, rows=part)
            # LibreOffice lays out ~3 ms a row: a part gets that beyond an uploaded document's limit.
            pdf = await converter.to_pdf(docx, extra_seconds=0.01 * len(part))
            if store is not None:
                await store.keep(index, source, pdf)
        first_page += await asyncio.to_thread(page_count, pdf)
        pdfs.append(pdf)
        done_rows += len(part)
        if progress is not None:
            await progress(index + 1, len(parts), done_rows)
    return await asyncio.to_thread(join_pdfs, pdfs)
