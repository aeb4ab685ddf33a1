"""Fillable fields on outgoing documents: the number/notation and the date.

Owns the two steps around the leader's signature:

1. before the leader signs, `add_text_fields` turns the template's `[[field:…]]` areas into
   read-only AcroForm text fields (and can reserve the empty signature field for the seal);
2. after the leader signs, `fill_text_fields` writes the values as an incremental update with
   appearance streams in embedded Liberation Serif, the face the body is set in (Times New
   Roman's metric twin), so the number and date read as part of the text in every viewer.

The leader signs as the document's certification signature with permission FILL_FORMS
(`signing.pades.sign_pdf(certify=MDPPerm.FILL_FORMS)`): filling these fields and signing the
reserved seal field are then allowed changes, and validation of the leader's signature reports
modification level FORM_FILLING. The seal's field is reserved before certification because
creating a new *visible* signature field after a certification signature is refused by strict
validators (pyHanko's default diff policy among them).
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from typing import Literal

from pyhanko.pdf_utils import generic, layout
from pyhanko.pdf_utils.generic import pdf_name, pdf_string
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.text import TextBox, TextBoxStyle
from pyhanko.pdf_utils.writer import init_xobject_dictionary
from pyhanko.sign.fields import SigFieldSpec, append_signature_field

from services.i18n import _l
from signing.appearance import text_width_pt
from signing.errors import ChangesForbidden, InvalidPdf, MarkerNotFound
from signing.fonts import CachedFontFactory, nfc
from signing.pades import open_pdf
from signing.placement import Box, Marker

Align = Literal["left", "center", "right"]
_QUADDING: dict[Align, int] = {"left": 0, "center": 1, "right": 2}
_ALIGN_BY_Q: dict[int, Align] = {v: k for k, v in _QUADDING.items()}

# Standard-14 fonts named in /DA and /DR: viewers that regenerate appearances need a font
# there, but ours are read-only with explicit Noto Serif appearance streams, so these names
# only carry the style intent (regular or italic) from creation to filling.
_REGULAR_DA_FONT = "Helv"
_ITALIC_DA_FONT = "HeOb"
_FIELD_READ_ONLY = 1
_ANNOT_PRINT = 4
_MIN_FONT_SIZE = 6
_BASELINE_FRACTION = 0.35 / 1.3


@dataclass(frozen=True)
class FieldSpec:
    """A text field to create: `page` counts from 0, `box` in PDF user space (points)."""

    name: str
    page: int
    box: Box
    font_size: float = 13
    italic: bool = False
    align: Align = "left"


@dataclass(frozen=True)
class SignatureFieldSpec:
    """An empty signature field to reserve (for a signature that comes after certification)."""

    name: str
    page: int
    box: Box


def field_specs_from_markers(
    *,
    markers: dict[str, Marker],
    font_size: float = 13,
    italic: frozenset[str] = frozenset({"date"}),
    left: frozenset[str] = frozenset({"number"}),
) -> list[FieldSpec]:
    """One `FieldSpec` per `[[field:…]]` marker: the date in italics and centred like its line
    (Decree 30), the number flush left so it follows "Số:" with one space."""
    return [
        FieldSpec(
            name=m.name, page=m.page, box=m.box, font_size=font_size, italic=m.name in italic, align="left" if m.name in left else "center"
        )
        for m in markers.values()
        if m.kind == "field"
    ]


def add_text_fields(
    pdf: bytes,
    fields: list[FieldSpec],
    *,
    signature_fields: list[SignatureFieldSpec] | None = None,
) -> bytes:
    """Add read-only text fields (and optional empty signature fields) as an incremental update.

    Must run before the first signature: adding fields afterwards is a change a certification
    signature does not allow.
    """
    reader = open_pdf(pdf)
    if reader.embedded_signatures:
        raise ChangesForbidden(
            _l("Fields can only be added before the document is signed."),
        )
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    try:
        acroform = _ensure_acroform(writer)
        field_array = acroform["/Fields"]
        existing = {str(f.get_object().get("/T")) for f in field_array}
        for spec in fields:
            if spec.name in existing:
                raise InvalidPdf(_l("Field {name!r} already exists.", name=spec.name))
            page_ref = writer.find_page_for_modification(spec.page)[0]
            font = _ITALIC_DA_FONT if spec.italic else _REGULAR_DA_FONT
            blank = writer.add_object(init_xobject_dictionary(b"", spec.box.width, spec.box.height))
            field = generic.DictionaryObject(
                {
                    pdf_name("/FT"): pdf_name("/Tx"),
                    pdf_name("/T"): pdf_string(spec.name),
                    pdf_name("/Ff"): generic.NumberObject(_FIELD_READ_ONLY),
                    pdf_name("/DA"): pdf_string(f"/{font} {spec.font_size:g} Tf 0 g"),
                    pdf_name("/Q"): generic.NumberObject(_QUADDING[spec.align]),
                    pdf_name("/Type"): pdf_name("/Annot"),
                    pdf_name("/Subtype"): pdf_name("/Widget"),
                    pdf_name("/F"): generic.NumberObject(_ANNOT_PRINT),
                    pdf_name("/Rect"): generic.ArrayObject(generic.FloatObject(round(v, 3)) for v in spec.box.as_tuple()),
                    pdf_name("/P"): page_ref,
                    pdf_name("/AP"): generic.DictionaryObject({pdf_name("/N"): blank}),
                }
            )
            field_ref = writer.add_object(field)
            field_array.append(field_ref)
            _append_annot(writer, page_ref, field_ref)
        writer.update_container(field_array)
        for sig in signature_fields or ():
            append_signature_field(
                writer,
                SigFieldSpec(sig_field_name=sig.name, on_page=sig.page, box=sig.box.as_tuple()),  # type: ignore[arg-type]  # pyHanko says int, takes any number
            )
        out = io.BytesIO()
        writer.write(out)
    except PdfError as exc:
        raise InvalidPdf(_l("Could not add the fields: {exc}", exc=exc)) from exc
    return out.getvalue()


def _ensure_acroform(writer: IncrementalPdfFileWriter) -> generic.DictionaryObject:
    root = writer.root
    try:
        acroform = root["/AcroForm"]
    except KeyError:
        acroform = generic.DictionaryObject({pdf_name("/Fields"): generic.ArrayObject()})
        root[pdf_name("/AcroForm")] = writer.add_object(acroform)
        writer.update_root()
    if "/Fields" not in acroform:
        acroform[pdf_name("/Fields")] = generic.ArrayObject()
    fonts = generic.DictionaryObject(
        {
            pdf_name(f"/{_REGULAR_DA_FONT}"): _standard_font("Helvetica"),
            pdf_name(f"/{_ITALIC_DA_FONT}"): _standard_font("Helvetica-Oblique"),
        }
    )
    dr = acroform.setdefault(pdf_name("/DR"), generic.DictionaryObject())
    dr_fonts = dr.setdefault(pdf_name("/Font"), generic.DictionaryObject())
    for name, value in fonts.items():
        dr_fonts.setdefault(name, value)
    acroform.setdefault(pdf_name("/DA"), pdf_string(f"/{_REGULAR_DA_FONT} 0 Tf 0 g"))
    ref = root.raw_get("/AcroForm")
    if isinstance(ref, generic.IndirectObject):
        writer.update_container(acroform)
    else:
        writer.update_root()
    return acroform


def _standard_font(base: str) -> generic.DictionaryObject:
    return generic.DictionaryObject(
        {
            pdf_name("/Type"): pdf_name("/Font"),
            pdf_name("/Subtype"): pdf_name("/Type1"),
            pdf_name("/BaseFont"): pdf_name(f"/{base}"),
            pdf_name("/Encoding"): pdf_name("/WinAnsiEncoding"),
        }
    )


def _append_annot(writer: IncrementalPdfFileWriter, page_ref: generic.IndirectObject, annot_ref: generic.IndirectObject) -> None:
    page = page_ref.get_object()
    annots_raw = page.raw_get("/Annots") if "/Annots" in page else None
    if isinstance(annots_raw, generic.IndirectObject):
        annots = annots_raw.get_object()
        annots.append(annot_ref)
        writer.update_container(annots)
    elif annots_raw is None:
        page[pdf_name("/Annots")] = generic.ArrayObject([annot_ref])
        writer.update_container(page)
    else:
        annots_raw.append(annot_ref)
        writer.update_container(page)


def text_field_names(pdf: bytes) -> list[str]:
    """Names of the document's text fields, in form order."""
    reader = open_pdf(pdf)
    try:
        fields = reader.root["/AcroForm"]["/Fields"]
    except KeyError:
        return []
    return [str(f.get_object()["/T"]) for f in fields if f.get_object().get("/FT") == "/Tx"]


def fill_text_fields(pdf: bytes, values: dict[str, str]) -> bytes:
    """Fill text fields by name as an incremental update (earlier signatures stay valid).

    Each value gets an appearance stream in embedded Liberation Serif (italic when the field
    was created italic), shrunk if needed to fit its box, aligned as the field says.
    Raises `MarkerNotFound` for a name the document has no field for.
    """
    open_pdf(pdf)  # refuse what is not a readable, unencrypted PDF before touching it
    writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
    try:
        fields = writer.root["/AcroForm"]["/Fields"]
    except KeyError:
        fields = generic.ArrayObject()
    by_name: dict[str, generic.IndirectObject] = {}
    for ref in fields:
        obj = ref.get_object()
        if obj.get("/FT") == "/Tx":
            by_name[str(obj["/T"])] = ref
    missing = sorted(set(values) - set(by_name))
    if missing:
        raise MarkerNotFound(
            _l("The document has no field named: {value}.", value=", ".join(missing)),
            fields=missing,
        )
    try:
        for name, raw_value in values.items():
            ref = by_name[name]
            field = ref.get_object()
            value = nfc(raw_value)
            field[pdf_name("/V")] = pdf_string(value)
            field[pdf_name("/AP")] = generic.DictionaryObject({pdf_name("/N"): _text_appearance(writer, field, value)})
            writer.update_container(field)
        out = io.BytesIO()
        writer.write(out)
    except PdfError as exc:
        raise InvalidPdf(_l("Could not fill the fields: {exc}", exc=exc)) from exc
    return out.getvalue()


def _text_appearance(writer: IncrementalPdfFileWriter, field: generic.DictionaryObject, value: str) -> generic.IndirectObject:
    x1, y1, x2, y2 = (float(v) for v in field["/Rect"])
    width, height = abs(x2 - x1), abs(y2 - y1)
    da = str(field.get("/DA", ""))
    italic = f"/{_ITALIC_DA_FONT} " in da
    try:
        size = int(round(float(da.split(" Tf")[0].split()[-1])))
    except (ValueError, IndexError):
        size = 13
    style: Literal["regular", "italic"] = "italic" if italic else "regular"
    # Shrink to fit rather than overflow into the neighbouring text.
    while size > _MIN_FONT_SIZE and text_width_pt(text=value, size=size, style=style, family="body") > width - 2:
        size -= 1
    tb = TextBox(
        TextBoxStyle(
            font=CachedFontFactory(style=style, font_size=size, family="body"),
            font_size=size,
            # No margins: the first baseline is then at y = 0 and we place it ourselves.
            box_layout_rule=layout.SimpleBoxLayoutRule(
                x_align=layout.AxisAlignment.ALIGN_MIN,
                y_align=layout.AxisAlignment.ALIGN_MIN,
                margins=layout.Margins.uniform(0),
            ),
        ),
        writer=writer,
        font_name="FFill",
    )
    tb.content = value
    commands = tb.render()
    align = _ALIGN_BY_Q.get(int(field.get("/Q", 0)), "left")
    if align == "left":
        x = 1.0
    elif align == "right":
        x = max(width - tb.box.width - 1, 0)
    else:
        x = max((width - tb.box.width) / 2, 0)
    # The marker's box is poppler's word box, which spans 0.95 em above and 0.35 em below the
    # baseline of the surrounding text: put our baseline where theirs was.
    y = height * _BASELINE_FRACTION
    stream = b"/Tx BMC q 1 0 0 1 %g %g cm %s Q EMC" % (round(x, 3), round(y, 3), commands)
    xobj = init_xobject_dictionary(stream, width, height, tb.resources.as_pdf_object())
    return writer.add_object(xobj)
