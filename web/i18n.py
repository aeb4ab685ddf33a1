"""Translations (Babel catalogs, Vietnamese first, English second) and display formats.

Message IDs are English; `locales/vi/LC_MESSAGES/messages.po` holds the Vietnamese text.
Catalogs are compiled in memory at start-up so no build step is needed.
"""

from __future__ import annotations

import contextvars
from datetime import date, datetime, timezone
from functools import lru_cache
from io import BytesIO
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

from services import numbers
from services.calendar import VN_TZ  # re-exported: pages format times in Vietnam time

LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
_LOCALE_DIR = Path(__file__).parent / "locales"
current_locale: contextvars.ContextVar[str] = contextvars.ContextVar("locale", default=DEFAULT_LOCALE)


@lru_cache
def translations(locale: str) -> NullTranslations:
    """All catalogs of a locale merged: each domain keeps its own .po file beside messages.po."""
    paths = sorted((_LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))
    if not paths:
        return NullTranslations()
    merged: Translations | None = None
    for path in paths:
        with path.open("rb") as handle:
            catalog = read_po(handle, locale=locale)
        buffer = BytesIO()
        write_mo(buffer, catalog)
        buffer.seek(0)
        translation = Translations(fp=buffer)
        if merged is None:
            merged = translation
        else:
            merged.merge(translation)
    assert merged is not None
    return merged


def fmt_number(value: float | int | None, digits: int = 1) -> str:
    """A count or measure in the page's language: "1.234" / "1,234", "3,5" / "3.5"."""
    return numbers.decimal(value, current_locale.get(), digits=digits)


def fmt_percent(share: float | None) -> str:
    """A share 0…1: "85,4 %" / "85.4%"."""
    return numbers.percent(share, current_locale.get())


def gettext(message: str) -> str:
    return translations(current_locale.get()).gettext(message)


def ngettext(singular: str, plural: str, n: int) -> str:
    return translations(current_locale.get()).ngettext(singular, plural, n)


_ = gettext


def pick(vi: str, en: str) -> str:
    """Choose between a domain error's Vietnamese and English messages."""
    return en if current_locale.get() == "en" else vi


def to_vn(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(VN_TZ)


def fmt_datetime(value: datetime | None) -> str:
    """dd/mm/yyyy HH:mm in Vietnam time."""
    return "" if value is None else to_vn(value).strftime("%d/%m/%Y %H:%M")


def fmt_date(value: date | datetime | None) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        value = to_vn(value)
    return value.strftime("%d/%m/%Y")


def iso_vn(value: datetime | None) -> str:
    """ISO 8601 with the +07:00 offset, for files and APIs."""
    return "" if value is None else to_vn(value).isoformat(timespec="seconds")
