"""Where stamps and fillable fields go on a PDF page.

Owns the marker contract with the DOCX templates: a signing block carries the invisible
(white) token `[[sig:<role>]]` centred in its empty signature space, and a fillable field
carries `[[field:<name>]]` followed by white underscores without spaces, so the whole token is
one word whose bounding box is the field's reserved area.

Markers are found with poppler's `pdftotext -bbox` rather than pdfminer: poppler is already a
hard dependency of the signing toolchain (pdfsig, pdftoppm), its text extraction is the one
our tests check stamps with, and it is an order of magnitude faster on multi-page documents.
"""

from __future__ import annotations

import re
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from defusedxml import ElementTree

from services.i18n import _l
from signing.errors import InvalidPdf, MarkerNotFound

MM = 72.0 / 25.4
"""PDF points per millimetre."""

SIGNATURE_BOX_WIDTH_MM = 60.0
SIGNATURE_BOX_HEIGHT_MM = 26.0
SEAL_DIAMETER_MM = 38.0

_MARKER = re.compile(r"\[\[(sig|field):([a-z0-9_-]+)\]\]")
_XHTML = "{http://www.w3.org/1999/xhtml}"


@dataclass(frozen=True)
class Box:
    """A rectangle in PDF user space (points, origin bottom left): x1 < x2, y1 < y2."""

    x1: float
    y1: float
    x2: float
    y2: float

    @property
    def width(self) -> float:
        return self.x2 - self.x1

    @property
    def height(self) -> float:
        return self.y2 - self.y1

    @property
    def centre(self) -> tuple[float, float]:
        return (self.x1 + self.x2) / 2, (self.y1 + self.y2) / 2

    def as_tuple(self) -> tuple[float, float, float, float]:
        return (self.x1, self.y1, self.x2, self.y2)

    def contains(self, other: Box, *, tolerance: float = 0.5) -> bool:
        """True when `other` lies inside this box (give or take `tolerance` points)."""
        return (
            other.x1 >= self.x1 - tolerance
            and other.y1 >= self.y1 - tolerance
            and other.x2 <= self.x2 + tolerance
            and other.y2 <= self.y2 + tolerance
        )

    @classmethod
    def centred(cls, *, centre: tuple[float, float], width: float, height: float) -> Box:
        """The box of the given size centred on `centre`."""
        cx, cy = centre
        return cls(cx - width / 2, cy - height / 2, cx + width / 2, cy + height / 2)

    @classmethod
    def parse(cls, text: str) -> Box:
        """Parse `x1,y1,x2,y2` (points), as typed on the command line."""
        try:
            x1, y1, x2, y2 = (float(part) for part in text.split(","))
        except ValueError as exc:
            raise ValueError(f"expected x1,y1,x2,y2 in points, got {text!r}") from exc
        if x2 <= x1 or y2 <= y1:
            raise ValueError(f"box {text!r} must have x1 < x2 and y1 < y2")
        return cls(x1, y1, x2, y2)


@dataclass(frozen=True)
class Marker:
    """One marker token found in the PDF; `page` counts from 0 (pyHanko's convention)."""

    kind: Literal["sig", "field"]
    name: str
    page: int
    box: Box
    page_width: float
    page_height: float

    @property
    def key(self) -> str:
        return f"{self.kind}:{self.name}"


def find_markers(pdf: bytes) -> dict[str, Marker]:
    """Find every `[[sig:…]]` and `[[field:…]]` token; keys are `sig:leader`, `field:date`….

    When a token occurs more than once the first occurrence (in page order) wins: a document
    has one signing block per role.
    """
    with tempfile.TemporaryDirectory(prefix="lienthong-markers-") as tmp:
        src = Path(tmp) / "in.pdf"
        src.write_bytes(pdf)
        proc = subprocess.run(
            ["pdftotext", "-bbox", "-enc", "UTF-8", str(src), "-"],
            capture_output=True,
            timeout=60,
        )
    if proc.returncode != 0:
        raise InvalidPdf(
            _l("Could not read the PDF text to find the signing positions."),
            stderr=proc.stderr.decode("utf-8", "replace")[-500:],
        )
    root = ElementTree.fromstring(proc.stdout)
    found: dict[str, Marker] = {}
    for page_no, page in enumerate(root.iter(f"{_XHTML}page")):
        page_height = float(page.get("height", "0"))
        page_width = float(page.get("width", "0"))
        for word in page.iter(f"{_XHTML}word"):
            match = _MARKER.search(word.text or "")
            if match is None:
                continue
            kind: Literal["sig", "field"] = "sig" if match.group(1) == "sig" else "field"
            key = f"{kind}:{match.group(2)}"
            if key in found:
                continue
            # pdftotext reports top-left-origin coordinates; PDF user space is bottom-left.
            box = Box(
                float(word.get("xMin", "0")),
                page_height - float(word.get("yMax", "0")),
                float(word.get("xMax", "0")),
                page_height - float(word.get("yMin", "0")),
            )
            found[key] = Marker(
                kind=kind,
                name=match.group(2),
                page=page_no,
                box=box,
                page_width=page_width,
                page_height=page_height,
            )
    return found


def require_marker(*, markers: dict[str, Marker], key: str) -> Marker:
    """Return `markers[key]` or raise `MarkerNotFound` with a message a clerk understands."""
    try:
        return markers[key]
    except KeyError:
        raise MarkerNotFound(
            _l("The document has no {key!r} marker (signing block or field).", key=key),
            marker=key,
        ) from None


def signature_box(*, marker: Marker) -> Box:
    """The 60 × 26 mm signature box centred on a `[[sig:…]]` token."""
    return Box.centred(
        centre=marker.box.centre,
        width=SIGNATURE_BOX_WIDTH_MM * MM,
        height=SIGNATURE_BOX_HEIGHT_MM * MM,
    )


def seal_box(*, signature: Box, diameter_mm: float = SEAL_DIAMETER_MM) -> Box:
    """The seal's square box: vertically centred on the signature, its right edge at the end
    of the signature's left third, so the seal covers that third (Decree 30 practice)."""
    size = diameter_mm * MM
    right = signature.x1 + signature.width / 3
    _, cy = signature.centre
    return Box(right - size, cy - size / 2, right, cy + size / 2)


def top_right_box(*, page_width: float, page_height: float, width: float, height: float, margin_mm: float = 10.0) -> Box:
    """A box of the given size in the top right corner of a page, `margin_mm` from the edges."""
    margin = margin_mm * MM
    return Box(page_width - margin - width, page_height - margin - height, page_width - margin, page_height - margin)
