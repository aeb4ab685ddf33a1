"""The placement markers leave the text layer before anyone signs: a final PDF reads clean in
copy-paste, search and screen readers, and looks exactly as before."""

from __future__ import annotations

import io
import re
import subprocess
import tempfile
import zlib
from pathlib import Path

import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from signing_docs import DATE_LINE, NUMBER, marked_pdf, outgoing_flow, text_of, words

from signing.errors import ChangesForbidden
from signing.marker_text import remove_marker_text, white_text_objects
from signing.placement import find_markers

_WHITE_TEXT = re.compile(rb"1 1 1 rg\s*BT")


def _pixels(pdf: bytes) -> list[bytes]:
    with tempfile.TemporaryDirectory() as tmp:
        subprocess.run(["pdftoppm", "-r", "60", "-gray", "-", f"{tmp}/p"], input=pdf, check=True)
        return [p.read_bytes() for p in sorted(Path(tmp).iterdir())]


def _ink_bottom(pdf: bytes, *, x1: float, x2: float, y: float) -> int:
    """The lowest dark pixel row (from the top of the page) between x1 and x2, within 12 pt
    around `y` on page 1 rendered at 288 dpi."""
    scale = 4
    height = float(PdfFileReader(io.BytesIO(pdf)).root["/Pages"]["/Kids"][0].get_object()["/MediaBox"][3])
    top = int((height - y - 6) * scale)
    with tempfile.TemporaryDirectory() as tmp:
        args = ["-r", "288", "-gray", "-f", "1", "-l", "1", "-singlefile", "-x", str(int(x1 * scale)), "-y", str(top)]
        subprocess.run(
            ["pdftoppm", *args, "-W", str(int((x2 - x1) * scale)), "-H", str(12 * scale), "-", f"{tmp}/c"], input=pdf, check=True
        )
        image = Image.open(f"{tmp}/c.pgm")
        rows = [r for r in range(image.height) if any(image.getpixel((c, r)) < 128 for c in range(image.width))]
    assert rows, "no ink where a glyph was expected"
    return top + rows[-1]


def _decoded_streams(pdf: bytes) -> list[bytes]:
    """Every Flate stream in the file, reachable or not: old content must not linger."""
    found = []
    for match in re.finditer(rb"stream\r?\n", pdf):
        try:
            found.append(zlib.decompressobj().decompress(pdf[match.end() : match.end() + 500_000]))
        except zlib.error:
            continue
    return found


def test_white_text_objects_are_found_and_nothing_else() -> None:
    stream = (
        b"q 0 0 0 rg BT 10 10 Td (Visible) Tj ET Q\n"
        b"q 1 1 1 rg BT 20 20 Td [(\\[\\[sig:leader]]) -3 <0102>] TJ ET Q\n"
        b"q 1 g BT (mixed) Tj 0 g (shown) Tj ET Q\n"  # mixed: left alone
        b"0 0 0 0 k BT (cmyk white) ' ET\n"
        b"0 g q 1 1 1 rg Q BT (after Q: black again) Tj ET\n"
        b"BI /W 1 /H 1 /BPC 8 /CS /G ID \xff\x00ET EI\n"
        b"/Span <</ActualText (BT \\( ET)>> BDC 1 1 1 rg BT ([[field:number]]____) Tj ET EMC\n"
    )
    spans = white_text_objects(stream)
    removed = [stream[a:b] for a, b in spans]
    assert removed == [
        b"BT 20 20 Td [(\\[\\[sig:leader]]) -3 <0102>] TJ ET",
        b"BT (cmyk white) ' ET",
        b"BT ([[field:number]]____) Tj ET",
    ]


def test_markers_leave_the_text_layer_and_the_page_looks_the_same() -> None:
    plain = marked_pdf(pages=2)
    assert "[[" in text_of(plain) and any(_WHITE_TEXT.search(s) for s in _decoded_streams(plain))
    clean = remove_marker_text(plain)
    assert "[[" not in text_of(clean) and "QUYẾT ĐỊNH" in text_of(clean)
    assert find_markers(clean) == {}
    assert not any(_WHITE_TEXT.search(s) for s in _decoded_streams(clean))  # not even as an orphan object
    assert _pixels(clean) == _pixels(plain)
    assert remove_marker_text(clean) == clean  # nothing left to remove: the same bytes


def test_markers_cannot_be_removed_once_signed(dev_pki) -> None:
    with pytest.raises(ChangesForbidden):
        remove_marker_text(outgoing_flow(dev_pki).leader_signed)


def test_the_final_outgoing_pdf_reads_clean_with_the_number_after_so(dev_pki) -> None:
    flow = outgoing_flow(dev_pki)
    text = text_of(flow.sealed)
    assert "[[" not in text and "____" not in text
    assert f"Số: {NUMBER}" in text and DATE_LINE in text
    found = words(flow.sealed)
    so = next(w for w in found if w.text == "Số:")
    number = next(w for w in found if w.text == NUMBER)
    # One space after the label, and on its baseline: the lowest ink of "S" and of "1" (no
    # descenders) on the same pixel row at 4 px per point.
    assert 0 < number.x1 - so.x2 < 6
    assert _ink_bottom(flow.sealed, x1=so.x1, x2=so.x1 + 5, y=so.y1) == pytest.approx(
        _ink_bottom(flow.sealed, x1=number.x1, x2=number.x1 + 5, y=so.y1), abs=1
    )
    # Set in the body's typeface (LibreOffice renders Times New Roman as Liberation Serif).
    reader = PdfFileReader(io.BytesIO(flow.sealed))
    for field in reader.root["/AcroForm"]["/Fields"]:
        field = field.get_object()
        if field.get("/FT") == "/Tx":
            fonts = field["/AP"]["/N"]["/Resources"]["/Font"]
            assert all("LiberationSerif" in str(f.get_object()["/BaseFont"]) for f in fonts.values()), field["/T"]
