"""Ids read from form fields: one reading for every page, so "²" or "abc" in a select is the
clerk's clear 422, never int()'s 500."""

from __future__ import annotations

from collections.abc import Iterable

from services.errors import InvalidInput
from services.i18n import _l
from services.numbers import is_digits


def form_id(value: object) -> int | None:
    """A chosen id; None when nothing was chosen; anything but ASCII digits (a file sent in its
    place included) is refused."""
    text = value.strip() if isinstance(value, str) else value
    if text is None or text == "":
        return None
    if not isinstance(text, str) or not is_digits(text):
        raise InvalidInput(_l("Invalid selection."))
    return int(text)


def form_ids(values: Iterable[object] | None) -> list[int]:
    """The ids ticked in a multiple choice; blanks and non-ids are left out."""
    return [int(str(v).strip()) for v in (values or []) if is_digits(str(v).strip())]
