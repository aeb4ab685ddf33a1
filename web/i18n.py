"""Translations (Babel catalogs, Vietnamese first, English second) and display formats.

Message IDs are English; `locales/vi/LC_MESSAGES/*.po` hold the Vietnamese text. Catalogs are
compiled in memory at start-up (`services.i18n`) so no build step is needed.
"""

from __future__ import annotations

import contextvars
from datetime import UTC, date, datetime

from services import numbers
from services.calendar import VN_TZ  # re-exported: pages format times in Vietnam time
from services.i18n import DEFAULT_LOCALE, Message, render, translations
from services.i18n import LOCALES as LOCALES

current_locale: contextvars.ContextVar[str] = contextvars.ContextVar("locale", default=DEFAULT_LOCALE)


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


def text(message: Message | str) -> str:
    """A service's message (`_l(...)`) in the request's language."""
    return render(message, current_locale.get())


def pick(vi: str, en: str) -> str:
    """Choose between a domain error's Vietnamese and English messages."""
    return en if current_locale.get() == "en" else vi


def to_vn(value: datetime) -> datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
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
