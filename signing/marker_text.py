"""Take the placement markers out of a PDF's text layer before anyone signs it.

The templates write `[[sig:…]]` and `[[field:…]]____` in white so that `signing.placement`
can find where stamps and fields go. Once the fields and signature boxes are reserved the
tokens have done their job, but left in the file they are still text: copy-paste, a
receiver's full-text search and screen readers would read "[[field:number]]____".

`remove_marker_text` drops every text object (BT … ET) whose text is all drawn in white
fill, which is how the placement contract marks tokens, and writes the PDF anew (not as an
incremental update, which would keep the old page content in the file). Everything else in
the content stream is kept byte for byte. LibreOffice writes each run as its own text object,
so a white token never shares one with visible text; a text object that mixes the two is
left alone rather than risk moving visible glyphs.
"""

from __future__ import annotations

import io
import re
from dataclasses import dataclass

from pyhanko.pdf_utils import generic
from pyhanko.pdf_utils.misc import PdfError
from pyhanko.pdf_utils.writer import copy_into_new_writer

from services.i18n import _l
from signing.errors import ChangesForbidden, InvalidPdf
from signing.pades import open_pdf

__all__ = ["remove_marker_text", "white_text_objects"]

_WHITESPACE = b" \t\r\n\f\x00"
_DELIMITERS = b"()<>[]{}/%"
_TEXT_SHOWS = {b"Tj", b"TJ", b"'", b'"'}
_INLINE_IMAGE_END = re.compile(rb"[\x00\t\n\f\r ]EI(?=[\x00\t\n\f\r ]|$)")


@dataclass(frozen=True)
class _Op:
    """One operator with its operands: `start` is where its first operand begins."""

    start: int
    end: int
    name: bytes
    operands: tuple[bytes, ...]


def _skip_string(data: bytes, i: int) -> int:
    """Index after the literal string that opens at `data[i] == '('` (nesting, escapes)."""
    depth = 0
    while i < len(data):
        c = data[i]
        if c == 0x5C:  # backslash: the next byte is escaped
            i += 2
            continue
        if c == 0x28:
            depth += 1
        elif c == 0x29:
            depth -= 1
            if depth == 0:
                return i + 1
        i += 1
    return i


def _skip_dict_or_hex(data: bytes, i: int) -> int:
    if data.startswith(b"<<", i):
        depth, i = 1, i + 2
        while i < len(data) and depth:
            if data.startswith(b"<<", i):
                depth, i = depth + 1, i + 2
            elif data.startswith(b">>", i):
                depth, i = depth - 1, i + 2
            elif data[i] == 0x28:
                i = _skip_string(data, i)
            else:
                i += 1
        return i
    end = data.find(b">", i)
    return len(data) if end < 0 else end + 1


def _operations(data: bytes) -> list[_Op]:
    """Split a content stream into operations, operands kept as raw tokens (an array as one)."""
    ops: list[_Op] = []
    operands: list[bytes] = []
    start: int | None = None
    array_start: int | None = None
    depth = 0
    i, n = 0, len(data)
    while i < n:
        c = data[i]
        if c in _WHITESPACE:
            i += 1
            continue
        if c == 0x25:  # a comment runs to the end of the line
            while i < n and data[i] not in b"\r\n":
                i += 1
            continue
        token_start = i
        if start is None:
            start = token_start
        if c == 0x28:
            i = _skip_string(data, i)
        elif c == 0x3C:
            i = _skip_dict_or_hex(data, i)
        elif c == 0x5B:
            if depth == 0:
                array_start = i
            depth, i = depth + 1, i + 1
            continue
        elif c == 0x5D:
            depth, i = max(depth - 1, 0), i + 1
            if depth == 0 and array_start is not None:
                operands.append(data[array_start:i])
            continue
        else:
            i += 1
            while i < n and data[i] not in _WHITESPACE and data[i] not in _DELIMITERS:
                i += 1
        if depth:
            continue
        token = data[token_start:i]
        if not (token[:1].isalpha() or token in (b"'", b'"')) or token in (b"true", b"false", b"null"):
            operands.append(token)
            continue
        if token == b"ID":  # inline image data runs to the EI that follows whitespace
            match = _INLINE_IMAGE_END.search(data, i)
            i = n if match is None else match.end()
            token = b"EI"
        ops.append(_Op(start=start, end=i, name=token, operands=tuple(operands)))
        operands, start = [], None
    return ops


def _is_white(op: _Op) -> bool | None:
    """Whether a fill-colour operator sets white; None when `op` sets no fill colour."""
    if op.name in (b"sc", b"scn", b"cs"):
        return False  # another colour space: not how markers are written
    if op.name not in (b"rg", b"g", b"k"):
        return None
    try:
        values = [float(v) for v in op.operands]
    except ValueError:
        return False
    white = 0.0 if op.name == b"k" else 1.0
    return bool(values) and all(v == white for v in values)


def white_text_objects(data: bytes) -> list[tuple[int, int]]:
    """Byte spans of the text objects whose shown text is all in white fill."""
    spans: list[tuple[int, int]] = []
    white, stack = False, []
    begin: int | None = None
    shows = visible = 0
    for op in _operations(data):
        colour = _is_white(op)
        if colour is not None:
            white = colour
        elif op.name == b"q":
            stack.append(white)
        elif op.name == b"Q":
            white = stack.pop() if stack else False
        elif op.name == b"BT":
            begin, shows, visible = op.start, 0, 0
        elif op.name in _TEXT_SHOWS:
            shows += 1
            visible += not white
        elif op.name == b"ET" and begin is not None:
            if shows and not visible:
                spans.append((begin, op.end))
            begin = None
    return spans


def _without(data: bytes, spans: list[tuple[int, int]]) -> bytes:
    out, last = bytearray(), 0
    for start, end in spans:
        out += data[last:start]
        last = end
    out += data[last:]
    return bytes(out)


def remove_marker_text(pdf: bytes) -> bytes:
    """The same PDF without its white marker text, written as a new file.

    Must run before the first signature (a rewrite would break it); a PDF with no white text
    comes back unchanged.
    """
    reader = open_pdf(pdf)
    if reader.embedded_signatures:
        raise ChangesForbidden(_l("Markers can only be removed before the document is signed."))
    try:
        writer = copy_into_new_writer(reader)
        changed = False
        for index in range(int(writer.root["/Pages"]["/Count"])):
            page = writer.find_page_for_modification(index)[0].get_object()
            if "/Contents" not in page:
                continue
            contents = page.raw_get("/Contents")
            if isinstance(contents.get_object(), generic.ArrayObject):
                contents = contents.get_object()
            refs = list(contents) if isinstance(contents, generic.ArrayObject) else [contents]
            data = b"\n".join(ref.get_object().data for ref in refs)
            spans = white_text_objects(data)
            if not spans:
                continue
            # Replace the stream objects themselves: a new object beside them would leave the
            # old content, markers included, in the file.
            for ref, content in zip(refs, [_without(data, spans)] + [b""] * (len(refs) - 1), strict=True):
                stream = generic.StreamObject(stream_data=content)
                stream.compress()
                writer.objects[(ref.generation, ref.idnum)] = stream
            changed = True
        if not changed:
            return pdf
        out = io.BytesIO()
        writer.write(out)
    except (PdfError, KeyError) as exc:
        raise InvalidPdf(_l("Could not remove the marker text: {exc}", exc=exc)) from exc
    return out.getvalue()
