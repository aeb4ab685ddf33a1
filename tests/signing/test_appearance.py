"""Visible marks: markers found where the template put them, the leader's signature and its
text line inside the signing block, the seal over the signature's left third, the attachment
stamp's text top right of page 1; generated images look like ink on transparent paper."""

from __future__ import annotations

import io
import re

import pytest
from PIL import Image
from pyhanko.pdf_utils.reader import PdfFileReader
from signing_docs import NUMBER, marked_pdf, outgoing_flow, render, render_region, words

from signing.appearance import (
    Appearance,
    attachment_text,
    format_signing_time,
    generated_seal_png,
    generated_signature_png,
)
from signing.errors import MarkerNotFound
from signing.pades import sign_pdf
from signing.placement import MM, Box, find_markers, seal_box, signature_box

A4 = (595.3, 841.9)


def _widget_rects(pdf: bytes) -> dict[str, Box]:
    reader = PdfFileReader(io.BytesIO(pdf))
    rects = {}
    for ref in reader.root["/AcroForm"]["/Fields"]:
        field = ref.get_object()
        rects[str(field["/T"])] = Box(*(float(v) for v in field["/Rect"]))
    return rects


def test_markers_are_found_with_boxes_in_pdf_user_space():
    markers = find_markers(marked_pdf())
    assert set(markers) == {"sig:leader", "field:number", "field:date"}
    sig, number, date = markers["sig:leader"], markers["field:number"], markers["field:date"]
    width, height = sig.page_width, sig.page_height
    # The signing block is the lower right of the page, the header fields near the top.
    assert sig.box.x1 > width / 2 and sig.box.y2 < height / 2
    assert number.box.x2 < width / 2 < date.box.x1
    assert number.box.y1 > height * 0.75 and date.box.y1 > height * 0.75
    # Bottom-left origin: y grows upwards.
    assert 0 < number.box.y1 < number.box.y2 < height


def test_signature_box_is_60_by_26_mm_centred_on_the_marker():
    marker = find_markers(marked_pdf())["sig:leader"]
    box = signature_box(marker=marker)
    assert box.width == pytest.approx(60 * MM) and box.height == pytest.approx(26 * MM)
    assert box.centre == pytest.approx(marker.box.centre)


def test_missing_marker_is_a_specific_error(dev_pki, tiny_pdf):
    with pytest.raises(MarkerNotFound):
        sign_pdf(
            tiny_pdf,
            signer=dev_pki.person_signer("lan.nguyen"),
            level="B-B",
            trust=dev_pki.trust,
            appearance=Appearance.signature(name="Nguyễn Thị Lan", marker="chair"),
            field_name="Sig-chair",
        )


def test_generated_signature_is_blue_ink_on_transparent_background():
    img = Image.open(io.BytesIO(generated_signature_png(name="Nguyễn Thị Lan"))).convert("RGBA")
    assert img.getpixel((0, 0))[3] == 0
    ink = [px for px in img.getdata() if px[3] == 255]
    assert len(ink) > 1000
    r, g, b, _ = ink[len(ink) // 2]
    assert b > 120 and r < 80 and g < 100


def test_generated_seal_is_red_round_with_a_star_on_transparent_background():
    img = Image.open(io.BytesIO(generated_seal_png(org_name="Hội Liên hiệp Phụ nữ tỉnh Bến Tre"))).convert("RGBA")
    w, h = img.size
    assert w == h
    for corner in ((0, 0), (w - 1, 0), (0, h - 1), (w - 1, h - 1)):
        assert img.getpixel(corner)[3] == 0
    r, g, b, a = img.getpixel((w // 2, h // 2))  # the star's centre
    assert a > 200 and r > 180 and g < 80 and b < 80


def test_leader_signature_and_its_text_line_sit_inside_the_signing_block(dev_pki):
    flow = outgoing_flow(dev_pki)
    marker = find_markers(flow.plain)["sig:leader"]
    box = signature_box(marker=marker)
    assert _widget_rects(flow.leader_signed)["Sig-leader"].contains(box, tolerance=0.1)
    found = [w for w in words(flow.leader_signed) if w.page == marker.page and box.contains(Box(w.x1, w.y1, w.x2, w.y2))]
    text = " ".join(w.text for w in found)
    assert "Ký bởi: Nguyễn Thị Lan" in text
    assert re.search(r"\d\d/\d\d/\d{4} \d\d:\d\d:\d\d \+07:00", text)
    # The stamp does not cover the document's own text: no page word inside the box but ours.
    page_words = [w for w in words(flow.plain) if w.page == marker.page and box.contains(Box(w.x1, w.y1, w.x2, w.y2))]
    assert [w.text for w in page_words] == ["[[sig:leader]]"]
    render_region(
        flow.sealed,
        "signing-block-zoom",
        page=marker.page,
        box=seal_box(signature=box).as_tuple()[:2] + box.as_tuple()[2:],
        page_height=marker.page_height,
    )


def test_seal_is_actual_size_and_covers_the_left_third_of_the_signature(dev_pki):
    flow = outgoing_flow(dev_pki)
    rects = _widget_rects(flow.sealed)
    sig, seal = rects["Sig-leader"], rects["Sig-seal"]
    assert seal.width == pytest.approx(38 * MM, abs=0.1) and seal.height == pytest.approx(38 * MM, abs=0.1)
    assert seal.x2 == pytest.approx(sig.x1 + sig.width / 3, abs=0.1)
    assert seal.x1 < sig.x1 < seal.x2 < sig.x2
    assert seal.centre[1] == pytest.approx(sig.centre[1], abs=0.1)


def test_uploaded_signature_png_is_used_instead_of_the_generated_one(dev_pki):
    uploaded = Image.new("RGBA", (400, 150), (0, 0, 0, 0))
    for x in range(20, 380):
        for y in range(70, 80):
            uploaded.putpixel((x, y), (10, 150, 30, 255))
    buf = io.BytesIO()
    uploaded.save(buf, format="PNG")
    signed = sign_pdf(
        marked_pdf(),
        signer=dev_pki.person_signer("hue.do"),
        level="B-B",
        trust=dev_pki.trust,
        appearance=Appearance.signature(name="Đỗ Thị Huệ Anh", marker="leader", image_png=buf.getvalue()),
        field_name="Sig-leader",
    )
    reader = PdfFileReader(io.BytesIO(signed))
    (sig,) = reader.embedded_signatures
    ap = sig.sig_field["/AP"]["/N"]
    images = [x.get_object() for x in ap["/Resources"]["/XObject"].values()]
    images = [x for x in images if x["/Subtype"] == "/Image"]
    assert [(int(i["/Width"]), int(i["/Height"])) for i in images] == [(400, 150)]
    assert "/SMask" in images[0]
    render(signed, "uploaded-signature")


def test_attachment_stamp_is_text_only_top_right_of_page_one(dev_pki):
    signed = sign_pdf(
        marked_pdf(pages=2),
        signer=dev_pki.org_signer("HLHPN-BT"),
        level="B-T",
        trust=dev_pki.trust,
        appearance=Appearance.attachment(notation=NUMBER),
        field_name="Sig-attachment",
    )
    width, height = A4
    # pyHanko positions glyphs individually, so poppler may see the line as one "word".
    top_right = [w for w in words(signed) if w.page == 0 and w.x1 > width * 0.55 and w.y1 > height - 45]
    line = " ".join(w.text for w in top_right)
    assert re.fullmatch(rf"{re.escape(NUMBER)} \d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d\+07:00", line), line
    # 10 pt Noto Serif: poppler's word box spans ascent + descent ≈ 1.36 em.
    assert all(12 < w.y2 - w.y1 < 15 for w in top_right)
    assert not [w for w in words(signed) if w.page == 1 and NUMBER in w.text]
    reader = PdfFileReader(io.BytesIO(signed))
    (sig,) = reader.embedded_signatures
    assert sig.sig_field["/P"] == reader.root["/Pages"]["/Kids"][0]
    ap = sig.sig_field["/AP"]["/N"]
    xobjects = ap["/Resources"].get("/XObject", {})
    assert not any(x.get_object().get("/Subtype") == "/Image" for x in xobjects.values())
    render(signed, "attachment-stamp")


def test_attachment_text_uses_iso_8601_with_the_vietnam_offset():
    from datetime import UTC, datetime

    at = datetime(2026, 1, 5, 2, 30, tzinfo=UTC)
    assert format_signing_time(at=at) == "2026-01-05T09:30:00+07:00"
    assert attachment_text(notation="15/QĐ-HLHPN", at=at) == "15/QĐ-HLHPN 2026-01-05T09:30:00+07:00"
