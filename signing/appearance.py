"""What a signature looks like on the page (DOMAIN.md, "Digital signatures on a document").

Owns three appearances:

* the leader's (or secretary's, chair's) signature: their uploaded PNG, or a generated blue
  handwriting-like rendering of their name, drawn in the signing block between the position
  line and the name, with a small text line (signer, time in +07:00) under it;
* the organisation's seal: the uploaded red seal PNG, or one generated from the organisation's
  name (name in a ring, star in the middle), about 38 mm across, over the left third of the
  leader's signature;
* the text-only stamp for attachments: `<number/notation> <ISO 8601 time +07:00>`, 10 pt,
  top right of page 1.

Generated images and decoded image data are cached per process: signing the hundredth document
of the day should not redraw the same seal.
"""

from __future__ import annotations

import hashlib
import io
import math
import zlib
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal

from PIL import Image, ImageDraw
from pydantic import BaseModel, ConfigDict, Field
from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.content import ResourceType
from pyhanko.pdf_utils.generic import pdf_name
from pyhanko.pdf_utils.text import TextBox, TextBoxStyle
from pyhanko.pdf_utils.writer import BasePdfFileWriter
from pyhanko.stamp import BaseStampStyle, TextStampStyle
from pyhanko.stamp.base import BaseStamp

from services.calendar import VN_TZ
from services.i18n import _l
from signing.errors import InvalidPdf
from signing.fonts import CachedFontFactory, FontFamily, nfc, pil_font
from signing.placement import (
    Box,
    find_markers,
    require_marker,
    seal_box,
    signature_box,
    top_right_box,
)

"""Vietnam's offset; every time shown on a stamp uses it, whatever the server's zone."""

SIGNATURE_BLUE = (22, 48, 160)
SEAL_RED = (215, 25, 32)
TEXT_LINE_SIZE = 7
"""Point size of the small signer/time line under a signature image."""
ATTACHMENT_TEXT_SIZE = 10

AppearanceKind = Literal["signature", "seal", "text"]

_NO_MARGIN = layout.SimpleBoxLayoutRule(
    x_align=layout.AxisAlignment.ALIGN_MIN,
    y_align=layout.AxisAlignment.ALIGN_MIN,
    margins=layout.Margins.uniform(0),
    inner_content_scaling=layout.InnerScaling.NO_SCALING,
)
"""Text boxes laid out at their natural size, first baseline at y = 0: we position them."""


class Appearance(BaseModel):
    """Which visible mark a signature gets and where.

    Placement is either explicit (`page` counted from 0 plus `box` in points, PDF user space)
    or a signing-block `marker` role (`leader`, `secretary`, `chair`); a seal's marker is the
    role whose signature it covers. A text stamp without a box goes top right of page 1.
    """

    model_config = ConfigDict(frozen=True)

    kind: AppearanceKind
    page: int | None = Field(None, ge=0)
    box: tuple[float, float, float, float] | None = None
    marker: str | None = None
    image_png: bytes | None = Field(None, description="Uploaded transparent PNG, if any.")
    display_name: str | None = Field(None, description="Person or organisation name drawn on generated images and the text line.")
    notation: str | None = Field(None, description="Number/notation for the attachment text stamp.")
    show_text_line: bool = True

    @classmethod
    def signature(
        cls,
        *,
        name: str,
        marker: str | None = "leader",
        image_png: bytes | None = None,
        page: int | None = None,
        box: Box | None = None,
    ) -> Appearance:
        """A person's visible signature: image plus the signer/time line."""
        return cls(
            kind="signature",
            display_name=name,
            marker=None if box else marker,
            image_png=image_png,
            page=page,
            box=box.as_tuple() if box else None,
        )

    @classmethod
    def seal(
        cls,
        *,
        org_name: str,
        over_marker: str | None = "leader",
        image_png: bytes | None = None,
        page: int | None = None,
        box: Box | None = None,
    ) -> Appearance:
        """The organisation's seal over the left third of `over_marker`'s signature."""
        return cls(
            kind="seal",
            display_name=org_name,
            marker=None if box else over_marker,
            image_png=image_png,
            page=page,
            box=box.as_tuple() if box else None,
            show_text_line=False,
        )

    @classmethod
    def attachment(cls, *, notation: str) -> Appearance:
        """The text-only organisation stamp for attachments (top right of page 1)."""
        return cls(kind="text", notation=notation, show_text_line=False)


@dataclass(frozen=True)
class Placement:
    """Where a signature widget goes: page (from 0) and box in PDF user space."""

    page: int
    box: Box


def format_signing_time(*, at: datetime) -> str:
    """ISO 8601 with the Vietnam offset and seconds, e.g. `2026-01-05T09:30:00+07:00`."""
    return at.astimezone(VN_TZ).replace(microsecond=0).isoformat()


def attachment_text(*, notation: str, at: datetime) -> str:
    """The attachment stamp's text: `15/QĐ-HLHPN 2026-01-05T09:30:00+07:00`."""
    return f"{nfc(notation)} {format_signing_time(at=at)}"


def text_line(*, name: str, at: datetime) -> str:
    """The small line under a signature image (two lines: signer, then time)."""
    local = at.astimezone(VN_TZ)
    return f"Ký bởi: {nfc(name)}\n{local:%d/%m/%Y %H:%M:%S} +07:00"


def text_width_pt(*, text: str, size: float, style: Literal["regular", "italic"] = "regular", family: FontFamily = "noto") -> float:
    """Advance width of one line of `text` in `family` (Noto Serif by default) at `size` points."""
    # Measure at 100 px then scale: Pillow rounds advances to whole pixels at small sizes.
    return pil_font(style=style, size_px=100, family=family).getlength(nfc(text)) * size / 100


def resolve_placement(*, appearance: Appearance, pdf: bytes, page_size: tuple[float, float]) -> Placement:
    """Compute the widget's page and box for `appearance` on `pdf` (page 1's size given)."""
    if appearance.box is not None:
        return Placement(page=appearance.page or 0, box=Box(*appearance.box))
    if appearance.kind == "text":
        text = attachment_text(notation=appearance.notation or "", at=datetime(2026, 1, 1, tzinfo=VN_TZ))
        width = text_width_pt(text=text, size=ATTACHMENT_TEXT_SIZE) + 6
        height = ATTACHMENT_TEXT_SIZE * 1.6
        width_pt, height_pt = page_size
        return Placement(
            page=appearance.page or 0,
            box=top_right_box(page_width=width_pt, page_height=height_pt, width=width, height=height),
        )
    if appearance.marker is None:
        raise InvalidPdf(
            _l("No placement given for the visible signature (page and box, or a marker role)."),
        )
    marker = require_marker(markers=find_markers(pdf), key=f"sig:{appearance.marker}")
    sig = signature_box(marker=marker)
    box = seal_box(signature=sig) if appearance.kind == "seal" else sig
    return Placement(page=marker.page, box=box)


# --------------------------------------------------------------------------- images


@lru_cache(maxsize=32)
def generated_signature_png(*, name: str) -> bytes:
    """A neat blue handwriting-like signature of `name` on a transparent background."""
    name = nfc(name).strip()
    font = pil_font(style="italic", size_px=150)
    left, top, right, bottom = font.getbbox(name)
    pad = 40
    width = int(right - left) + 2 * pad
    height = int(bottom - top) + 2 * pad + 60
    img = Image.new("RGBA", (width, height), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    colour = (*SIGNATURE_BLUE, 255)
    draw.text((pad - left, pad - top), name, font=font, fill=colour)
    # A flourish under the name: a tapering wave, drawn as overlapping discs so the stroke
    # thins towards its ends like a pen lifting off.
    base_y = pad + (bottom - top) + 25
    steps = 400
    for i in range(steps + 1):
        t = i / steps
        x = pad + t * (width - 2 * pad)
        y = base_y - 18 * math.sin(t * math.pi * 1.5) * (1 - t * 0.4)
        r = 1.5 + 4.5 * math.sin(t * math.pi)
        draw.ellipse((x - r, y - r, x + r, y + r), fill=colour)
    return _png(img)


@lru_cache(maxsize=32)
def generated_seal_png(*, org_name: str, size_px: int = 900) -> bytes:
    """A round red seal: double outer ring, `org_name` (upper case) in a ring, star inside."""
    text = nfc(org_name).upper().strip()
    img = Image.new("RGBA", (size_px, size_px), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    ink = (*SEAL_RED, 235)
    c = size_px / 2
    outer = size_px * 0.485
    draw.ellipse((c - outer, c - outer, c + outer, c + outer), outline=ink, width=int(size_px * 0.022))
    ring_in = size_px * 0.335
    draw.ellipse((c - ring_in, c - ring_in, c + ring_in, c + ring_in), outline=ink, width=int(size_px * 0.008))
    _draw_ring_text(img, text=text, centre=c, radius=size_px * 0.375, ink=ink, max_span_deg=300.0, size_px=size_px)
    _draw_star(draw, centre=(c, c), radius=size_px * 0.14, ink=ink)
    # A tiny star at the bottom of the ring, where the name's two ends meet.
    _draw_star(draw, centre=(c, c + size_px * 0.41), radius=size_px * 0.03, ink=ink)
    return _png(img)


def _draw_ring_text(
    img: Image.Image,
    *,
    text: str,
    centre: float,
    radius: float,
    ink: tuple[int, int, int, int],
    max_span_deg: float,
    size_px: int,
) -> None:
    """Write `text` clockwise along a circle, centred on the top, glyph tops outwards."""
    font_size = int(size_px * 0.085)
    spacing = 0.12
    while True:
        font = pil_font(style="bold", size_px=font_size)
        advances = [font.getlength(ch) * (1 + spacing) for ch in text]
        span = math.degrees(sum(advances) / radius)
        if span <= max_span_deg or font_size <= 10:
            break
        font_size -= 2
    angle = 90 + span / 2  # degrees, counter-clockwise from east; text starts on the left
    cell = int(font_size * 2.2)
    for ch, adv in zip(text, advances):
        half = math.degrees(adv / 2 / radius)
        angle -= half
        if ch.strip():
            glyph = Image.new("RGBA", (cell, cell), (0, 0, 0, 0))
            # Baseline at the cell's centre so rotation about the centre keeps it on the ring.
            ImageDraw.Draw(glyph).text((cell / 2, cell / 2), ch, font=font, fill=ink, anchor="ms")
            glyph = glyph.rotate(angle - 90, resample=Image.Resampling.BICUBIC)
            rad = math.radians(angle)
            x = centre + radius * math.cos(rad) - cell / 2
            y = centre - radius * math.sin(rad) - cell / 2
            img.alpha_composite(glyph, (int(round(x)), int(round(y))))
        angle -= half


def _draw_star(draw: ImageDraw.ImageDraw, *, centre: tuple[float, float], radius: float, ink: tuple[int, int, int, int]) -> None:
    cx, cy = centre
    inner = radius * 0.382
    points = []
    for i in range(10):
        r = radius if i % 2 == 0 else inner
        a = math.radians(90 + i * 36)
        points.append((cx + r * math.cos(a), cy - r * math.sin(a)))
    draw.polygon(points, fill=ink)


def _png(img: Image.Image) -> bytes:
    out = io.BytesIO()
    img.save(out, format="PNG", optimize=False)
    return out.getvalue()


@dataclass(frozen=True)
class _ImageData:
    """An image pre-encoded as PDF streams: Flate RGB data and a Flate alpha soft mask."""

    width: int
    height: int
    rgb: bytes
    alpha: bytes | None


_IMAGE_CACHE: dict[bytes, _ImageData] = {}


def _image_data(png: bytes) -> _ImageData:
    """Decode and deflate an image once per process (keyed by its SHA-256)."""
    key = hashlib.sha256(png).digest()
    cached = _IMAGE_CACHE.get(key)
    if cached is not None:
        return cached
    try:
        img: Image.Image = Image.open(io.BytesIO(png))
        img.load()
    except Exception as exc:  # Pillow raises many types for a bad upload.
        raise InvalidPdf(_l("The signature/seal image is unreadable.")) from exc
    img = img.convert("RGBA")
    alpha = img.getchannel("A")
    has_alpha = alpha.getextrema() != (255, 255)
    data = _ImageData(
        width=img.width,
        height=img.height,
        rgb=zlib.compress(img.convert("RGB").tobytes(), 6),
        alpha=zlib.compress(alpha.tobytes(), 6) if has_alpha else None,
    )
    if len(_IMAGE_CACHE) > 64:
        _IMAGE_CACHE.clear()
    _IMAGE_CACHE[key] = data
    return data


def _write_image(writer: BasePdfFileWriter, data: _ImageData) -> generic.IndirectObject:
    def stream(colour_space: str, payload: bytes, extra: dict[str, generic.PdfObject]) -> generic.StreamObject:
        return generic.StreamObject(
            {
                pdf_name("/Type"): pdf_name("/XObject"),
                pdf_name("/Subtype"): pdf_name("/Image"),
                pdf_name("/Width"): generic.NumberObject(data.width),
                pdf_name("/Height"): generic.NumberObject(data.height),
                pdf_name("/ColorSpace"): pdf_name(colour_space),
                pdf_name("/BitsPerComponent"): generic.NumberObject(8),
                pdf_name("/Filter"): pdf_name("/FlateDecode"),
                **{pdf_name(k): v for k, v in extra.items()},
            },
            encoded_data=payload,
        )

    extra: dict[str, generic.PdfObject] = {}
    if data.alpha is not None:
        extra["/SMask"] = writer.add_object(stream("/DeviceGray", data.alpha, {}))
    return writer.add_object(stream("/DeviceRGB", data.rgb, extra))


# --------------------------------------------------------------------------- stamps


@dataclass(frozen=True)
class ImageTextStampStyle(BaseStampStyle):
    """Stamp style: an image fitted into the box above optional small text lines.

    pyHanko's own styles draw either text or a background with opacity; a signature needs an
    opaque-ink transparent image and a text line side by side, so this style draws both.
    """

    border_width: int = 0
    image_png: bytes | None = None
    lines: str | None = None
    font_size: int = TEXT_LINE_SIZE
    text_colour: tuple[float, float, float] = (0.05, 0.1, 0.45)

    def create_stamp(self, writer: BasePdfFileWriter, box: layout.BoxConstraints, text_params: dict) -> BaseStamp:
        return _ImageTextStamp(writer=writer, style=self, box=box)


class _ImageTextStamp(BaseStamp):
    style: ImageTextStampStyle

    def _render_inner_content(self) -> list[bytes]:
        style = self.style
        width, height = self.box.width, self.box.height
        commands: list[bytes] = []
        text_height = 0.0
        if style.lines:
            tb = TextBox(
                TextBoxStyle(
                    font=CachedFontFactory(style="regular", font_size=style.font_size),
                    font_size=style.font_size,
                    text_color=style.text_colour,
                    box_layout_rule=_NO_MARGIN,
                ),
                writer=self.writer,
                resources=self.resources,
                font_name="FSigLine",
            )
            tb.content = nfc(style.lines)
            text_cmds = tb.render()
            text_height = tb.box.height + 2
            # Flush right: the seal covers the left third of a leader's signature, and the
            # line must stay readable under it.
            x: float = max(width - tb.box.width - 1, 0)
            # Lift by 2 pt so the last line's descenders stay inside the box.
            commands.append(b"q 1 0 0 1 %g 2 cm %s Q" % (round(x, 3), text_cmds))
        if style.image_png:
            data = _image_data(style.image_png)
            assert self.writer is not None  # create_stamp always passes the writer
            ref = _write_image(self.writer, data)
            self.set_resource(category=ResourceType.XOBJECT, name=pdf_name("/ImgSig"), value=ref)
            avail_w = width
            avail_h = max(height - text_height - 2, 1)
            scale = min(avail_w / data.width, avail_h / data.height)
            w, h = data.width * scale, data.height * scale
            x = (width - w) / 2
            y = text_height + 2 + (avail_h - h) / 2
            commands.append(b"q %g 0 0 %g %g %g cm /ImgSig Do Q" % (round(w, 3), round(h, 3), round(x, 3), round(y, 3)))
        return commands


def stamp_style(*, appearance: Appearance, signer_name: str, signed_at: datetime) -> BaseStampStyle:
    """The pyHanko stamp style drawing `appearance` for a signature made at `signed_at`."""
    if appearance.kind == "text":
        text = attachment_text(notation=appearance.notation or "", at=signed_at)
        return TextStampStyle(
            stamp_text=text.replace("%", "%%"),
            text_box_style=TextBoxStyle(
                font=CachedFontFactory(style="regular", font_size=ATTACHMENT_TEXT_SIZE),
                font_size=ATTACHMENT_TEXT_SIZE,
                # pyHanko's default 10 pt margins would make the box shrink the text below 10 pt.
                box_layout_rule=_NO_MARGIN,
            ),
            border_width=0,
            background=None,
            inner_content_layout=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MAX,
                y_align=layout.AxisAlignment.ALIGN_MID,
                margins=layout.Margins.uniform(1),
                inner_content_scaling=layout.InnerScaling.NO_SCALING,
            ),
        )
    name = appearance.display_name or signer_name
    if appearance.kind == "seal":
        png = appearance.image_png or generated_seal_png(org_name=name)
        return ImageTextStampStyle(image_png=png, lines=None)
    png = appearance.image_png or generated_signature_png(name=name)
    lines = text_line(name=name, at=signed_at) if appearance.show_text_line else None
    return ImageTextStampStyle(image_png=png, lines=lines)
