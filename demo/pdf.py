"""The stand-in for a scanned paper document in the demo data and the tests: a valid one-page A4
PDF written by hand, its Vietnamese text set in an embedded subset of Liberation Serif (the face
LibreOffice sets the project's documents in), so every diacritic shows on the page and comes back
when the text is copied or extracted (a ToUnicode map). No LibreOffice: seeding stays fast."""

from __future__ import annotations

import hashlib
import io
import zlib
from collections.abc import Iterator
from functools import lru_cache

from fontTools import subset as ft_subset
from fontTools import ttLib

from signing.fonts import font_path, nfc

PAGE_WIDTH, PAGE_HEIGHT = 595, 842  # A4 in points
MARGIN = 72
TITLE_PT, BODY_PT = 16, 12
TOP = 770  # the first line's baseline


# Dropped from every subset: NFC text needs no shaping (one precomposed glyph per letter), and
# with GPOS the subsetter drops the legacy `kern` table as well.
_UNUSED_TABLES = ("GSUB", "GPOS", "GDEF", "FFTM", "kern")


@lru_cache(maxsize=1)
def _face_file() -> bytes:
    """Liberation Serif without the tables every subset drops, read once: parsing them again for
    each PDF took more than half of its time (tests make hundreds); the subsets are the same bytes."""
    font = ttLib.TTFont(str(font_path(family="body")), recalcTimestamp=False)
    for tag in _UNUSED_TABLES:
        if tag in font:
            del font[tag]
    out = io.BytesIO()
    font.save(out)
    return out.getvalue()


def _subset(text: str) -> ttLib.TTFont:
    """Liberation Serif reduced to the glyphs of `text` (fresh glyph ids, outlines kept)."""
    font = ttLib.TTFont(io.BytesIO(_face_file()), recalcTimestamp=False)  # same text, same bytes
    options = ft_subset.Options()
    options.layout_features = []
    options.drop_tables += list(_UNUSED_TABLES)
    options.notdef_outline = True
    options.name_IDs = ["*"]
    subsetter = ft_subset.Subsetter(options=options)
    subsetter.populate(text=text)
    subsetter.subset(font)
    return font


class _Face:
    """Glyph ids, advances (1/1000 em) and the PDF objects of the embedded subset."""

    def __init__(self, text: str) -> None:
        self.font = _subset(text)
        self.cmap: dict[int, str] = self.font.getBestCmap()
        self.scale = 1000 / self.font["head"].unitsPerEm
        self.used: dict[int, str] = {}  # glyph id -> the character it shows

    def glyph(self, char: str) -> int:
        name = self.cmap.get(ord(char))
        gid = self.font.getGlyphID(name) if name else 0
        self.used.setdefault(gid, char)
        return gid

    def advance(self, char: str) -> float:
        name = self.cmap.get(ord(char), ".notdef")
        return self.font["hmtx"][name][0] * self.scale

    def width(self, text: str, size: float) -> float:
        return sum(self.advance(c) for c in text) * size / 1000

    def show(self, text: str) -> str:
        return "<" + "".join(f"{self.glyph(c):04X}" for c in text) + "> Tj"

    def font_file(self) -> bytes:
        out = io.BytesIO()
        self.font.save(out)
        return out.getvalue()

    def to_unicode(self) -> bytes:
        pairs = sorted((gid, char) for gid, char in self.used.items() if gid)
        chunks = [pairs[i : i + 100] for i in range(0, len(pairs), 100)]  # at most 100 per block
        lines = [
            "/CIDInit /ProcSet findresource begin",
            "12 dict begin",
            "begincmap",
            "/CIDSystemInfo << /Registry (Adobe) /Ordering (UCS) /Supplement 0 >> def",
            "/CMapName /Adobe-Identity-UCS def",
            "/CMapType 2 def",
            "1 begincodespacerange",
            "<0000> <FFFF>",
            "endcodespacerange",
        ]
        for chunk in chunks:
            lines.append(f"{len(chunk)} beginbfchar")
            lines += [f"<{gid:04X}> <{char.encode('utf-16-be').hex().upper()}>" for gid, char in chunk]
            lines.append("endbfchar")
        lines += ["endcmap", "CMapName currentdict /CMap defineresource pop", "end", "end"]
        return "\n".join(lines).encode()


def _wrap(face: _Face, text: str, size: float) -> Iterator[str]:
    """`text` in lines that fit between the margins (words kept whole)."""
    room = PAGE_WIDTH - 2 * MARGIN
    for paragraph in text.splitlines() or [""]:
        line = ""
        for word in paragraph.split():
            candidate = f"{line} {word}" if line else word
            if line and face.width(candidate, size) > room:
                yield line
                line = word
            else:
                line = candidate
        yield line


def _stream(data: bytes, **entries: object) -> bytes:
    """A Flate-compressed stream object."""
    packed = zlib.compress(data, 9)
    extra = "".join(f" /{k} {v}" for k, v in entries.items())
    return f"<< /Length {len(packed)} /Filter /FlateDecode{extra} >>\nstream\n".encode() + packed + b"\nendstream"


@lru_cache(maxsize=256)
def demo_pdf(title: str, body: str = "") -> bytes:
    """A one-page A4 PDF: `title` in 16 pt at the top, then `body` in 12 pt, wrapped; any
    Vietnamese text. The same text gives the same bytes."""
    title, body = nfc(title), nfc(body)
    face = _Face(title + body)
    ops: list[str] = []
    y = TOP
    for size, text, gap in ((TITLE_PT, title, 10), (BODY_PT, body, 0)):
        if not text:
            continue
        for line in _wrap(face, text, size):
            ops.append(f"BT /F1 {size} Tf {MARGIN} {y} Td {face.show(line)} ET")
            y -= round(size * 1.35)
        y -= gap
    content = "\n".join(ops).encode()
    font_file = face.font_file()
    head, hhea, os2 = face.font["head"], face.font["hhea"], face.font["OS/2"]
    s = face.scale
    widths = " ".join(f"{gid} [{round(face.advance(char))}]" for gid, char in sorted(face.used.items()))
    # A subset's name starts with six capitals of its own (ISO 32000 9.6.4); from its glyphs, so
    # that the same text gives the same file.
    digest = hashlib.sha256("".join(sorted(face.used.values())).encode()).digest()
    name = "".join(chr(ord("A") + b % 26) for b in digest[:6]) + "+LiberationSerif"
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        f"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 {PAGE_WIDTH} {PAGE_HEIGHT}] "
        "/Resources << /Font << /F1 4 0 R >> >> /Contents 5 0 R >>".encode(),
        f"<< /Type /Font /Subtype /Type0 /BaseFont /{name} /Encoding /Identity-H /DescendantFonts [6 0 R] /ToUnicode 9 0 R >>".encode(),
        f"<< /Length {len(content)} >>\nstream\n".encode() + content + b"\nendstream",
        f"<< /Type /Font /Subtype /CIDFontType2 /BaseFont /{name} "
        "/CIDSystemInfo << /Registry (Adobe) /Ordering (Identity) /Supplement 0 >> "
        f"/FontDescriptor 7 0 R /CIDToGIDMap /Identity /DW 1000 /W [{widths}] >>".encode(),
        f"<< /Type /FontDescriptor /FontName /{name} /Flags 6 "
        f"/FontBBox [{round(head.xMin * s)} {round(head.yMin * s)} {round(head.xMax * s)} {round(head.yMax * s)}] "
        f"/ItalicAngle 0 /Ascent {round(hhea.ascent * s)} /Descent {round(hhea.descent * s)} "
        f"/CapHeight {round(getattr(os2, 'sCapHeight', hhea.ascent) * s)} /StemV 80 /FontFile2 8 0 R >>".encode(),
        _stream(font_file, Length1=len(font_file)),
        _stream(face.to_unicode()),
    ]
    out, offsets = bytearray(b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n"), []  # the binary comment marks it as binary
    for number, obj in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + obj + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    out += b"".join(f"{o:010d} 00000 n \n".encode() for o in offsets)
    out += f"trailer\n<< /Size {len(objects) + 1} /Root 1 0 R >>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)
