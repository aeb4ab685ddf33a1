"""Case- and accent-insensitive matching of Vietnamese text, the same on SQLite and PostgreSQL.

People type "ke hoach" for "Kế hoạch" and "HỘI LHPN" for "Hội LHPN". Both sides are folded to
lowercase letters without diacritics: the needle in Python, the column in the database (SQLite
through `fold` registered on each connection, PostgreSQL with `translate()` over every Vietnamese
letter, which needs no extension and does not depend on the database's locale).
"""

from __future__ import annotations

import string
import unicodedata
from typing import Any

from sqlalchemy import String
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql.expression import ColumnElement, FunctionElement


def fold(text: str | None) -> str | None:
    """Lowercase without diacritics: "Kế hoạch Đảng" → "ke hoach dang"."""
    if text is None:
        return None
    decomposed = unicodedata.normalize("NFD", text)
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return bare.replace("đ", "d").replace("Đ", "D").lower()


def _letters() -> str:
    tones = ("", "\u0300", "\u0301", "\u0309", "\u0303", "\u0323")  # huyền, sắc, hỏi, ngã, nặng
    bases = ("a", "ă", "â", "e", "ê", "i", "o", "ô", "ơ", "u", "ư", "y")
    letters = {unicodedata.normalize("NFC", base + tone) for base in bases for tone in tones}
    letters |= {letter.upper() for letter in letters} | {"đ", "Đ"} | set(string.ascii_uppercase)
    return "".join(sorted(letter for letter in letters if fold(letter) != letter))


_FROM = _letters()
_TO = "".join(fold(letter) or "" for letter in _FROM)
assert len(_FROM) == len(_TO)


class folded(FunctionElement[str]):
    """A column folded like `fold` inside the database."""

    type = String()
    name = "lt_fold"
    inherit_cache = True


@compiles(folded, "sqlite")
def _fold_sqlite(element: folded, compiler: Any, **kw: Any) -> str:
    return f"lt_fold({compiler.process(element.clauses, **kw)})"


@compiles(folded, "postgresql")
def _fold_postgresql(element: folded, compiler: Any, **kw: Any) -> str:
    return f"translate({compiler.process(element.clauses, **kw)}, '{_FROM}', '{_TO}')"


def contains(column: Any, needle: str) -> ColumnElement[bool]:
    """`column` contains `needle`, ignoring case and diacritics (LIKE wildcards in it are literal)."""
    return folded(column).contains(fold(needle.strip()) or "", autoescape=True)
