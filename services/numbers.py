"""Numbers as people read them in each language, through Babel: Vietnamese "1.234", "85,4 %",
English "1,234", "85.4%". Pages, charts and their tables all format through here."""

from __future__ import annotations

from babel.numbers import format_decimal, format_percent

# Babel's own digits and separators; the pattern adds the one decimal the figures carry, and the
# space Vietnamese writing puts before "%" (CLDR's vi pattern has none), non-breaking.
_PERCENT = {"vi": "#,##0.0\u00a0%", "en": "#,##0.0%"}
_PERCENT_SHORT = {"vi": "#,##0.#\u00a0%", "en": "#,##0.#%"}  # axis ticks: "25 %", "12,5 %"


def is_digits(text: object) -> bool:
    """ASCII digits only: str.isdigit() also takes "²" and "١", which int() refuses or misreads
    (a 500 before, where a client sent them as an id)."""
    value = str(text)
    return value.isascii() and value.isdecimal()


def percent(share: float | None, locale: str, *, short: bool = False) -> str:
    """A share 0…1 as a percentage with one decimal ("—" when there is none)."""
    if share is None:
        return "—"
    patterns = _PERCENT_SHORT if short else _PERCENT
    return format_percent(share, format=patterns.get(locale, patterns["en"]), locale=locale, decimal_quantization=True)


def decimal(value: float | int | None, locale: str, *, digits: int = 1) -> str:
    """A count ("1.234") or a measure with at most `digits` decimals ("3,5")."""
    if value is None or value == "":
        return "—"
    pattern = "#,##0" + ("." + "#" * digits if digits else "")
    return format_decimal(value, format=pattern, locale=locale)
