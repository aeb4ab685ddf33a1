"""Messages from the Babel catalogues, translated where they are shown.

Services write their user-facing text once, in English, as `_l("… {name} …", name=value)`: a
`Message` holding the msgid and its named parameters. The edge translates it in the reader's
language (a page or API answer: the request's; a notification or e-mail: the recipient's).
`web/locales/<locale>/LC_MESSAGES/*.po` hold the Vietnamese (`msgid` English, `msgstr`
Vietnamese); the catalogues stay beside the templates, which hold most of the text.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime
from functools import lru_cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import NullTranslations, Translations

LOCALES = ("vi", "en")
DEFAULT_LOCALE = "vi"
LOCALE_DIR = Path(__file__).resolve().parents[1] / "web" / "locales"


@lru_cache
def translations(locale: str) -> NullTranslations:
    """All catalogs of a locale merged: each domain keeps its own .po file beside messages.po."""
    paths = sorted((LOCALE_DIR / locale / "LC_MESSAGES").glob("*.po"))
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


@dataclass(frozen=True)
class Message:
    """An English msgid and its named parameters, translated only when shown."""

    msgid: str
    params: dict[str, Any] = field(default_factory=dict)

    def render(self, locale: str) -> str:
        text = translations(locale if locale in LOCALES else DEFAULT_LOCALE).gettext(self.msgid)
        if not self.params:
            return text
        return text.format(**{k: render(v, locale) if isinstance(v, Message) else v for k, v in self.params.items()})

    def to_json(self) -> dict[str, Any]:
        """Stored form (notifications): parameters as text, nested messages kept as messages."""
        return {"msgid": self.msgid, "params": {k: _dump(v) for k, v in self.params.items()}}

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Message:
        return cls(data["msgid"], {k: _load(v) for k, v in (data.get("params") or {}).items()})

    def __str__(self) -> str:  # logs and exception text read English
        return self.render("en")


def _dump(value: Any) -> Any:
    # Dates keep their type so a `{due:%d/%m/%Y}` placeholder still formats after storage.
    if isinstance(value, Message):
        return value.to_json()
    if isinstance(value, datetime):
        return {"datetime": value.isoformat()}
    if isinstance(value, date):
        return {"date": value.isoformat()}
    return value if isinstance(value, (int, float)) else str(value)


def _load(value: Any) -> Any:
    if not isinstance(value, dict):
        return value
    if "datetime" in value:
        return datetime.fromisoformat(value["datetime"])
    if "date" in value:
        return date.fromisoformat(value["date"])
    return Message.from_json(value)


def _l(msgid: str, /, **params: Any) -> Message:
    """Mark an English msgid for extraction; translated later, in the reader's language."""
    return Message(msgid, params)


def render(text: Message | str, locale: str) -> str:
    """A message in `locale`; plain text (old stored rows, names) as it is."""
    return text.render(locale) if isinstance(text, Message) else text
