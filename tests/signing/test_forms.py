"""Number and date fields: created before the leader signs, filled after it in Vietnamese,
without breaking the leader's signature."""

from __future__ import annotations

import io

import pytest
from pyhanko.pdf_utils.reader import PdfFileReader
from signing_docs import DATE_LINE, NUMBER, marked_pdf, outgoing_flow, render, words

from signing.errors import ChangesForbidden, MarkerNotFound
from signing.forms import FieldSpec, add_text_fields, field_specs_from_markers, fill_text_fields, text_field_names
from signing.placement import Box, find_markers
from signing.validation import validate_pdf


def test_fields_are_created_read_only_where_the_markers_are(dev_pki):
    flow = outgoing_flow(dev_pki)
    markers = find_markers(flow.plain)
    reader = PdfFileReader(io.BytesIO(flow.prepared))
    fields = {str(f.get_object()["/T"]): f.get_object() for f in reader.root["/AcroForm"]["/Fields"]}
    assert set(fields) == {"number", "date", "Sig-leader", "Sig-seal"}
    for name in ("number", "date"):
        rect = Box(*(float(v) for v in fields[name]["/Rect"]))
        assert rect == pytest.approx(markers[f"field:{name}"].box, abs=0.01)
        assert int(fields[name]["/Ff"]) & 1  # read-only in viewers
    assert "/HeOb" in str(fields["date"]["/DA"])  # the date is italic (Decree 30)
    assert text_field_names(flow.prepared) == ["number", "date"]


def test_filled_values_render_in_vietnamese_inside_their_fields(dev_pki):
    flow = outgoing_flow(dev_pki)
    markers = find_markers(flow.plain)
    found = words(flow.filled)
    for name, value in (("number", NUMBER), ("date", DATE_LINE)):
        box = markers[f"field:{name}"].box
        inside = [w.text for w in found if Box(box.x1 - 1, box.y1 - 3, box.x2 + 1, box.y2 + 3).contains(Box(w.x1, w.y1, w.x2, w.y2))]
        assert " ".join(t for t in inside if not t.startswith("[[")) == value
    render(flow.filled, "fields-filled")


def test_filling_after_the_leader_signs_keeps_the_signature_valid_as_form_filling(dev_pki):
    flow = outgoing_flow(dev_pki)
    assert flow.filled.startswith(flow.leader_signed)
    (leader,) = validate_pdf(flow.filled, trust=dev_pki.trust).signatures
    assert leader.intact and leader.valid and leader.trusted and leader.ok
    assert leader.modification_level == "FORM_FILLING" and leader.docmdp_ok


def test_unknown_field_name_is_refused(dev_pki):
    with pytest.raises(MarkerNotFound):
        fill_text_fields(outgoing_flow(dev_pki).leader_signed, {"subject": "Về việc …"})


def test_fields_cannot_be_added_after_signing(dev_pki):
    with pytest.raises(ChangesForbidden):
        add_text_fields(outgoing_flow(dev_pki).leader_signed, [FieldSpec("late", 0, Box(100, 100, 200, 120))])


def test_a_long_value_shrinks_to_fit_its_box():
    pdf = marked_pdf()
    markers = find_markers(pdf)
    prepared = add_text_fields(pdf, field_specs_from_markers(markers=markers))
    long_value = "Bến Tre, ngày 05 tháng 01 năm 2026 (bản điều chỉnh lần thứ hai)"
    filled = fill_text_fields(prepared, {"date": long_value})
    box = markers["field:date"].box
    inside = [w for w in words(filled) if w.y1 >= box.y1 - 3 and w.y2 <= box.y2 + 3 and w.x1 >= box.x1 - 1 and not w.text.startswith("[[")]
    assert " ".join(w.text for w in inside) == long_value
    assert max(w.x2 for w in inside) <= box.x2 + 1
