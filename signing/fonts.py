"""Fonts for visible signatures, stamps and filled form fields.

Owns the one copy per process of the font data the signing path needs: a pre-subset
OpenType font (Latin + Vietnamese repertoire) for pyHanko text boxes and Pillow fonts for
generated signature and seal images. Stamps use Noto Serif; the number and date filled into a
document use Liberation Serif, the face LibreOffice sets the body's Times New Roman in, so they
read as part of the text.

Why a pre-subset: pyHanko's stock `GlyphAccumulatorFactory` re-opens and re-parses the full
font file (≈ 500 kB, thousands of glyphs) for every signature and then subsets it
destructively. Subsetting once to the ≈ 450 glyphs Vietnamese text needs makes each later
parse and subset cheap, and the font object can never be shared anyway because pyHanko's
subsetting mutates it. Noto Serif has 1000 units per em, which pyHanko's glyph positioning
needs (TOOLCHAIN.md: other unitsPerEm values come out with stretched spacing); a font with
another value is rescaled here once.
"""

from __future__ import annotations

import io
import unicodedata
from dataclasses import dataclass
from functools import cache, lru_cache
from pathlib import Path
from typing import Literal

from fontTools import subset as ft_subset
from fontTools import ttLib
from fontTools.ttLib.scaleUpem import scale_upem
from PIL import ImageFont
from pyhanko.pdf_utils.font.api import FontEngineFactory
from pyhanko.pdf_utils.font.opentype import GlyphAccumulator
from pyhanko.pdf_utils.writer import BasePdfFileWriter

from services.i18n import _l
from signing.errors import SigningError

FontStyle = Literal["regular", "italic", "bold", "bold_italic"]
FontFamily = Literal["noto", "body"]

NOTO_DIR = Path("/usr/share/fonts/truetype/noto")
# Liberation Serif 2.x (Debian fonts-liberation2): 1.x lacks most Vietnamese letters.
BODY_DIR = Path("/usr/share/fonts/truetype/liberation2")
_FILES: dict[FontFamily, tuple[Path, str, dict[FontStyle, str]]] = {
    "noto": (
        NOTO_DIR,
        "fonts-noto-core",
        {
            "regular": "NotoSerif-Regular.ttf",
            "italic": "NotoSerif-Italic.ttf",
            "bold": "NotoSerif-Bold.ttf",
            "bold_italic": "NotoSerif-BoldItalic.ttf",
        },
    ),
    "body": (
        BODY_DIR,
        "fonts-liberation2",
        {
            "regular": "LiberationSerif-Regular.ttf",
            "italic": "LiberationSerif-Italic.ttf",
            "bold": "LiberationSerif-Bold.ttf",
            "bold_italic": "LiberationSerif-BoldItalic.ttf",
        },
    ),
}

# Basic Latin, Latin-1, Latin Extended-A/B parts used by Vietnamese (Ă Đ Ĩ Ũ Ơ Ư),
# combining marks (text arriving decomposed), Latin Extended Additional (Ạ … ỹ),
# general punctuation, the đồng sign and the star/ring-friendly symbols.
_REPERTOIRE: tuple[tuple[int, int], ...] = (
    (0x0020, 0x007E),
    (0x00A0, 0x00FF),
    (0x0100, 0x017F),
    (0x01A0, 0x01B0),
    (0x0300, 0x0323),
    (0x1EA0, 0x1EF9),
    (0x2010, 0x2027),
    (0x2030, 0x203A),
    (0x20AB, 0x20AB),
    (0x2116, 0x2116),
)


def font_path(*, style: FontStyle = "regular", family: FontFamily = "noto") -> Path:
    """Path of the system face of `family` for `style` (Noto Serif or Liberation Serif)."""
    directory, package, files = _FILES[family]
    path = directory / files[style]
    if not path.is_file():
        raise SigningError(
            _l("Font {path} is missing; install the Debian package {package}.", path=path, package=package, name=path.name),
        )
    return path


@cache
def font_bytes(*, style: FontStyle = "regular", family: FontFamily = "noto") -> bytes:
    """The Vietnamese subset of `family`'s `style` as TrueType bytes, built once per process."""
    tt = ttLib.TTFont(str(font_path(style=style, family=family)))
    if tt["head"].unitsPerEm != 1000:
        # pyHanko positions glyphs assuming 1000 units; rescale instead of living with
        # stretched letter spacing.
        scale_upem(tt, 1000)
    options = ft_subset.Options()
    # No GSUB/GPOS/GDEF: text is NFC-normalised (`nfc`) so every Vietnamese letter is one
    # precomposed glyph, and pyHanko decompiles these big tables again on every signature
    # when it subsets, which was most of a stamp's cost.
    options.layout_features = []
    options.drop_tables += ["GSUB", "GPOS", "GDEF", "BASE", "JSTF", "MATH", "FFTM"]
    options.name_IDs = ["*"]
    options.notdef_outline = True
    options.glyph_names = False
    subsetter = ft_subset.Subsetter(options=options)
    unicodes = [cp for lo, hi in _REPERTOIRE for cp in range(lo, hi + 1)]
    subsetter.populate(unicodes=unicodes)
    subsetter.subset(tt)
    out = io.BytesIO()
    tt.save(out)
    return out.getvalue()


@dataclass(frozen=True)
class CachedFontFactory(FontEngineFactory):
    """pyHanko font engine factory that builds glyph accumulators from the cached subset.

    `font_size` must equal the size of the text box that uses the engine (pyHanko's
    accumulator uses it for glyph positioning).
    """

    style: FontStyle = "regular"
    font_size: int = 10
    family: FontFamily = "noto"

    def create_font_engine(self, writer: BasePdfFileWriter, obj_stream: object | None = None) -> GlyphAccumulator:
        """Return a fresh accumulator (pyHanko mutates it while subsetting) over cached bytes."""
        if obj_stream is None and writer.stream_xrefs:
            obj_stream = writer.prepare_object_stream()
        return GlyphAccumulator(
            writer=writer,
            font_handle=io.BytesIO(font_bytes(style=self.style, family=self.family)),
            font_size=self.font_size,
            bcp47_lang_code="vi",
            obj_stream=obj_stream,
        )


@lru_cache(maxsize=64)
def pil_font(*, style: FontStyle = "regular", size_px: int, family: FontFamily = "noto") -> ImageFont.FreeTypeFont:
    """A Pillow font for generated images and text measures, loaded once per (style, size, family)."""
    return ImageFont.truetype(str(font_path(style=style, family=family)), size_px)


def nfc(text: str) -> str:
    """Normalise to NFC so every Vietnamese letter maps to one precomposed glyph."""
    return unicodedata.normalize("NFC", text)
